"""The window's navigation: the pages by name, each with its icon drawn in the theme's colour."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.ui.theme.colours import Theme
from app.ui.theme.icons import icon

PAGES = (("Chat", "chat"), ("My Models", "models"), ("Local Server", "server"))  # name, icon


class Navigation(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("navigation")
        for name, icon_name in PAGES:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, icon_name)
            self.addItem(item)
        self.setIconSize(QSize(18, 18))
        self.setFixedWidth(148)

    def set_theme(self, theme: Theme) -> None:
        for row in range(self.count()):
            item = self.item(row)
            item.setIcon(icon(str(item.data(Qt.ItemDataRole.UserRole)), theme.nav_text))

"""The conversations column: search, the list (newest first), new, rename, delete; a
conversation's context menu exports it."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.store import Conversation


class ConversationPanel(QWidget):
    conversationChosen = Signal(int)
    searchChanged = Signal(str)
    exportRequested = Signal(int, str)  # conversation id, format ("md", "json", "html")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversationPanel")
        self.setMinimumWidth(180)
        self.search = QLineEdit(placeholderText="Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.searchChanged)
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip("Rename this conversation (F2)")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete this conversation (Undo brings it back)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.rename_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def fill(
        self, conversations: Iterable[Conversation], current: int | None, replying: int | None = None
    ) -> None:
        """The list, the conversation shown selected; the one a reply is being written in is
        in italics and says so."""
        self.list.blockSignals(True)
        self.list.clear()
        for conv in conversations:
            item = QListWidgetItem(conv.title)
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            item.setToolTip(conv.title)
            if conv.id == replying:
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
                item.setToolTip(f"{conv.title}\nA reply is being written here")
            self.list.addItem(item)
            if conv.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def context_menu(self, item: QListWidgetItem) -> QMenu:
        """Export this conversation, as Markdown, JSON or HTML."""
        cid = int(item.data(Qt.ItemDataRole.UserRole))
        menu = QMenu(self.list)
        for fmt, title in (("md", "Markdown"), ("json", "JSON (imports back)"), ("html", "HTML page")):
            action = menu.addAction(f"Export as {title}...")
            action.setObjectName(f"export_{fmt}")
            action.triggered.connect(lambda _c=False, f=fmt: self.exportRequested.emit(cid, f))
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.context_menu(item).popup(self.list.viewport().mapToGlobal(pos))

    def _on_current(self, item: QListWidgetItem | None, _prev: QListWidgetItem | None = None) -> None:
        if item is not None:
            self.conversationChosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))

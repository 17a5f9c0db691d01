"""The bar above the transcript: the buttons that show or hide the side panels, and what the
next reply runs on, "Main + Draft" (elided when there is no room: a long name never widens the
window), with a note when the draft chosen applies from the next reply."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from app.ui.theme.colours import Theme
from app.ui.theme.icons import icon
from app.ui.widgets.elided_label import ElidedLabel


def _panel_toggle(icon_name: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setObjectName("panelToggle")
    b.setCheckable(True)
    b.setChecked(True)
    b.setToolTip(tip)
    b.setAccessibleName(tip)
    b.setProperty("icon_name", icon_name)
    return b


class ChatHeader(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatHeader")
        self.conversations_toggle = _panel_toggle("panel-left", "Show or hide conversations")
        self.sidebar_toggle = _panel_toggle("panel-right", "Show or hide settings")
        self.pair_label = ElidedLabel("No model loaded")
        self.pair_label.setObjectName("pairLabel")
        self.pair_detail = QLabel("")  # short: the pair's name gives way first
        self.pair_detail.setObjectName("pairDetail")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.conversations_toggle)
        layout.addStretch(1)
        layout.addWidget(self.pair_label)
        layout.addWidget(self.pair_detail)
        layout.addStretch(1)
        layout.addWidget(self.sidebar_toggle)

    def set_pair(self, main: str, draft: str, detail: str = "") -> None:
        """`detail`: what the pair is ("main + draft", "no draft", ...)."""
        if not main:
            self.pair_label.setText("No model loaded")
            self.pair_detail.setText("")
            return
        self.pair_label.setText(f"{main}  +  {draft}" if draft else main)
        self.pair_detail.setText(detail or ("main + draft" if draft else "no draft"))

    def set_theme(self, theme: Theme) -> None:
        for b in (self.conversations_toggle, self.sidebar_toggle):
            b.setIcon(icon(str(b.property("icon_name")), theme.muted))

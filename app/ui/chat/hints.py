"""One-line hints above the message box, each with its own buttons: a reply being written in
another conversation (Show it, Stop), a deleted conversation (Undo), the model a conversation
used (Load it)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class HintBar(QFrame):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setProperty("hint", True)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(12, 4, 8, 4)
        self._layout.addWidget(self.label, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def add_button(self, key: str, text: str, tip: str, slot: Callable[[], object]) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(f"hint_{key}")
        b.setToolTip(tip)
        b.setFlat(True)
        b.clicked.connect(lambda _c=False: slot())
        self.buttons[key] = b
        self._layout.addWidget(b)
        return b

    def say(self, text: str, seconds: float = 0) -> None:
        """Show `text`; hide again after `seconds` (0: until hidden)."""
        self.label.setText(text)
        self.show()
        if seconds:
            self._timer.start(int(seconds * 1000))
        else:
            self._timer.stop()

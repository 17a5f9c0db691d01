"""A banner above the pages for problems with the app's own files (the conversations file,
settings, caches): what happened and where the old file is, until the user dismisses it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


class NoticeBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBanner")
        self.label = QLabel()
        self.label.setObjectName("errorBanner")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.setToolTip(
            "Hide these messages (they are also in the log and in `specula doctor`)"
        )
        self.dismiss_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self._dismissed: set[str] = set()
        self.messages: list[str] = []
        self.hide()

    def show_messages(self, messages: list[str]) -> None:
        """Show every message not dismissed yet (a repeated one is shown once)."""
        self.messages = [m for m in dict.fromkeys(messages) if m not in self._dismissed]
        self.label.setText("\n".join(self.messages))
        self.setVisible(bool(self.messages))

    def dismiss(self) -> None:
        self._dismissed.update(self.messages)
        self.show_messages([])

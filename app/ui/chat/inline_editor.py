"""Your last message, edited where it stands (Edit and resend)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from app.ui.chat.composer import PromptEdit

RESEND_TIP = "Send the edited message; the old reply is replaced once the new one is in"


class InlineEditor(QWidget):
    """Your last message, editable where it stands: Enter resends, Esc cancels. Nothing
    changes in the conversation until the new reply is committed."""

    submitted = Signal(str)
    cancelled = Signal()

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inlineEditor")
        self.text = PromptEdit()
        self.text.setObjectName("inlineEditorText")
        self.text.setPlaceholderText("Your message (Enter resends, Shift+Enter for a new line, Esc cancels)")
        self.text.setPlainText(text)
        self.text.submitted.connect(self._on_submit)
        self.text.escaped.connect(self.cancelled)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Keep the message as it was (Esc)")
        self.cancel_button.clicked.connect(self.cancelled)
        self.send_button = QPushButton("Resend")
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip(RESEND_TIP)
        self.send_button.clicked.connect(self._on_submit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self.text.textChanged.connect(self._on_changed)
        self._on_changed()

    def _on_changed(self) -> None:
        empty = not self.text.toPlainText().strip()
        self.send_button.setEnabled(not empty)
        self.send_button.setToolTip("Type your message first" if empty else RESEND_TIP)

    def _on_submit(self) -> None:
        text = self.text.toPlainText().strip()
        if text:
            self.submitted.emit(text)

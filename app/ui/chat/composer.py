"""Where the user writes: a text box that grows with its text, and Send (Stop while a reply
streams) inside one rounded frame."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QPushButton, QSizePolicy, QWidget

from app.ui.theme.colours import Theme
from app.ui.theme.icons import icon

MAX_LINES = 8


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter is a newline; grows from one line up to MAX_LINES. Tab and
    Shift+Tab move the focus on (to Send, the sidebar...), Ctrl+Tab types a tab."""

    submitted = Signal()
    escaped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("prompt")
        self.setTabChangesFocus(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line)")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(lambda _s: self._fit())
        self._fit()

    def _fit(self) -> None:
        wanted = max(1, int(self.document().documentLayout().documentSize().height()))
        lines = min(MAX_LINES, wanted)
        line_h = self.fontMetrics().lineSpacing()
        margins = self.contentsMargins().top() + self.contentsMargins().bottom()
        height = lines * line_h + int(2 * self.document().documentMargin()) + margins + 4
        policy = (
            Qt.ScrollBarPolicy.ScrollBarAsNeeded
            if wanted > MAX_LINES
            else Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        )
        self.setVerticalScrollBarPolicy(policy)
        if height != self.height():
            self.setFixedHeight(height)

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())

    def event(self, event: QEvent) -> bool:
        # Ctrl+Tab would move the focus too (Qt's way out of a text box): here it types a tab
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Tab
            and event.modifiers() == Qt.KeyboardModifier.ControlModifier
        ):
            self.insertPlainText("\t")
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
        super().keyPressEvent(event)


class Composer(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.prompt = PromptEdit()
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
        self.send_button.setToolTip("Send (Enter)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop generating (Esc)")
        for b in (self.send_button, self.stop_button):
            b.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.prompt, 1)
        layout.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        self.prompt.textChanged.connect(self._update_send)
        self._why_not = ""
        self._busy = False
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.stop_button.setEnabled(busy)
        self._update_send()

    def set_why_not(self, why: str) -> None:
        """Why Send cannot act now ("" when it can, once there is text)."""
        self._why_not = why
        self._update_send()

    def _update_send(self) -> None:
        why = self._why_not or ("" if self.prompt.toPlainText().strip() else "Type a message first")
        self.send_button.setEnabled(not why and not self._busy)
        self.send_button.setToolTip(f"Send (Enter)\n{why}" if why else "Send (Enter)")

    def set_theme(self, theme: Theme) -> None:
        self.send_button.setIcon(icon("send", theme.accent_text, theme.muted))
        self.stop_button.setIcon(icon("stop", theme.accent_text))

"""What the user asks of the chat's replies: send a message, regenerate or continue the last
reply, edit the last message in place, step through a reply's versions, copy a reply. Each
turns into a request to the session (through ChatReplies) or says why it cannot run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from app.chat.message_model import MessageView
from app.chat.reply import CONTINUE, EDIT, REGENERATE, SEND
from app.chat.session import ChatSession
from app.core.model_settings import SPECS
from app.ui.chat.composer import PromptEdit
from app.ui.chat.notices import ChatNotices
from app.ui.chat.replies import ChatReplies, ReplySetup
from app.ui.chat.sidebar import ConfigSidebar
from app.ui.chat.transcript.card import NEXT, PREVIOUS
from app.ui.chat.transcript.view import ChatView


class ReplyCommands(QObject):
    def __init__(
        self,
        session: ChatSession,
        replies: ChatReplies,
        view: ChatView,
        sidebar: ConfigSidebar,
        prompt: PromptEdit,
        banner: QLabel,
        notices: ChatNotices,
        show_error: Callable[[str], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.replies = replies
        self.view = view
        self.sidebar = sidebar
        self.prompt = prompt
        self.banner = banner
        self.notices = notices
        self.show_error = show_error
        view.actionRequested.connect(self._on_reply_action)
        replies.editReturned.connect(self._on_edit_returned)

    def conversation_settings(self) -> dict[str, Any]:
        """The sidebar's values a conversation keeps: not the draft, nor what applies on load
        (those are the model's)."""
        values = self.sidebar.values()
        return {k: v for k, v in values.items() if k in SPECS and SPECS[k].in_forms and not SPECS[k].on_load}

    def _begin(self, kind: str, text: str = "") -> bool:
        self.banner.hide()
        values = self.sidebar.values()
        setup = ReplySetup(values, self.sidebar.engine, self.conversation_settings())
        return self.replies.begin(kind, setup, text) is not None

    def send(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text:
            return
        if self._begin(SEND, text):
            self.prompt.clear()

    def regenerate(self) -> None:
        self._begin(REGENERATE)

    def continue_reply(self) -> None:
        self._begin(CONTINUE)

    def edit_last(self) -> None:
        """Your last message becomes editable where it stands; nothing changes until the new
        reply is committed."""
        why = self.session.why_not(EDIT)
        if why:
            self.show_error(why)
            return
        card = self.view.begin_edit()
        if card is not None and card.editor is not None:
            card.editor.submitted.connect(self._on_edit_submitted)
            card.editor.cancelled.connect(self.view.end_edit)

    def _on_edit_submitted(self, text: str) -> None:
        self.view.end_edit()
        self._begin(EDIT, text)

    def _on_edit_returned(self, text: str) -> None:
        self.prompt.setPlainText(text)
        self.show_error("No reply came, so your message was not changed; your edit is in the message box.")

    def copy_last_reply(self) -> None:
        last = self.session.last("assistant")
        if last is None:
            self.notices.note("No reply to copy yet.")
            return
        self.copy_text(last.content, "the last reply")

    def copy_text(self, text: str, what: str) -> None:
        """Copied, and said so (a shortcut gives no other sign)."""
        QGuiApplication.clipboard().setText(text)
        self.notices.note(f"Copied {what} ({len(text)} characters).")

    def show_version(self, step: int) -> None:
        last = self.session.last("assistant")
        if last is not None and last.id is not None and 0 <= last.version + step < last.versions:
            self.session.select_version(last.id, last.version + step)

    def _on_reply_action(self, key: str, message: MessageView) -> None:
        if key == "copy":
            self.copy_text(message.text, "the reply")
        elif key == "edit":
            self.edit_last()
        elif key == "regenerate":
            self.regenerate()
        elif key == "continue":
            self.continue_reply()
        elif key in (PREVIOUS, NEXT) and message.id is not None:
            self.session.select_version(message.id, message.version + (1 if key == NEXT else -1))

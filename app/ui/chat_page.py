"""The Chat page: conversations on the left, the transcript and composer in the middle, the
config sidebar on the right. It turns user actions into requests for the engine worker and
stores every finished or stopped reply.

The side panels fold away (the sidebar first) when the page gets narrow, so the transcript
keeps a readable width; the header's buttons open them again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.chat.store import ChatStore, ConversationUnreadableError, StoredMessage
from app.core import model_settings
from app.core.events import GenerationResult, GenerationStats, StopReason
from app.core.request import ChatMessage, GenerationRequest, Role
from app.ui.chat_header import ChatHeader
from app.ui.chat_view import ChatView
from app.ui.composer import Composer
from app.ui.conversation_panel import ConversationPanel
from app.ui.message_model import MessageView
from app.ui.preferences import Preferences
from app.ui.sidebar import ConfigSidebar
from app.ui.stream_batch import StreamBatch
from app.ui.theme import LIGHT, Theme

SIDEBAR_FOLDS_BELOW = 1080  # page width under which the config sidebar folds away
CONVERSATIONS_FOLD_BELOW = 760


class ChatPage(QWidget):
    generateRequested = Signal(object)  # GenerationRequest
    stopRequested = Signal()
    replyFinished = Signal()

    def __init__(
        self, store: ChatStore, preferences: Preferences | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.preferences = preferences or Preferences()
        self.conversation_id: int | None = None
        self.busy = False
        self.model_loaded = False
        self.model_name = ""  # the loaded main model, as the user knows it
        self.draft_name = ""  # the draft in use ("" for none)
        self._continuing: MessageView | None = None
        self._stored_reply: StoredMessage | None = None

        self.conversations = ConversationPanel()
        self.conversations.conversationChosen.connect(self._on_conversation_selected)
        self.conversations.searchChanged.connect(lambda _t: self.refresh_conversations())
        self.search = self.conversations.search
        self.conv_list = self.conversations.list
        self.new_button = self.conversations.new_button
        self.rename_button = self.conversations.rename_button
        self.delete_button = self.conversations.delete_button
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self._on_rename)
        self.delete_button.clicked.connect(self._on_delete)

        # centre: header (panels, the loaded pair), banner, transcript, composer
        centre = QWidget()
        centre.setObjectName("chatCentre")
        self.header = ChatHeader()
        self.conversations_toggle = self.header.conversations_toggle
        self.sidebar_toggle = self.header.sidebar_toggle
        self.pair_label = self.header.pair_label
        self.pair_detail = self.header.pair_detail

        self.banner = QLabel()
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.view = ChatView()
        self.view.actionRequested.connect(self._on_reply_action)
        self.composer = Composer()
        self.prompt = self.composer.prompt
        self.send_button = self.composer.send_button
        self.stop_button = self.composer.stop_button
        self.prompt.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(16, 6, 16, 12)
        composer_row.addStretch(1)
        composer_row.addWidget(self.composer, 100)
        composer_row.addStretch(1)
        self.composer.setMaximumWidth(self.view.column_width())
        centre_l = QVBoxLayout(centre)
        centre_l.setContentsMargins(0, 0, 0, 0)
        centre_l.setSpacing(0)
        centre_l.addWidget(self.header)
        centre_l.addWidget(self.banner)
        centre_l.addWidget(self.view, 1)
        centre_l.addLayout(composer_row)

        self.sidebar = ConfigSidebar()
        self.sidebar.setObjectName("configSidebar")
        self.sidebar.visualize_box.setChecked(bool(self.preferences.get("visualize_drafts")))
        self.sidebar.rejected_box.setChecked(bool(self.preferences.get("show_rejected")))
        self.view.set_render_style(
            visualize=self.sidebar.visualize_box.isChecked(),
            show_rejected=self.sidebar.rejected_box.isChecked(),
        )
        self.sidebar.visualizeToggled.connect(self._on_visualize)
        self.sidebar.rejectedToggled.connect(self._on_show_rejected)

        self.splitter = QSplitter()
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(1)
        self.splitter.addWidget(self.conversations)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.sidebar)
        self.splitter.setSizes([220, 700, 320])
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.conversations_toggle.toggled.connect(lambda on: self._show_panel(self.conversations, on))
        self.sidebar_toggle.toggled.connect(lambda on: self._show_panel(self.sidebar, on))
        self._folded: set[str] = set()  # panels folded by the width, reopened when it grows
        self._last_width = 0

        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_conversation)
        QShortcut(QKeySequence("Ctrl+Shift+C"), self, self.copy_last_reply)
        QShortcut(QKeySequence("Ctrl+R"), self, self.regenerate)
        self.set_theme(LIGHT)
        self.refresh_conversations()
        self._update_buttons()

    # --- look -------------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.view.set_theme(theme)
        self.composer.set_theme(theme)
        self.header.set_theme(theme)

    def set_model_pair(self, main: str, draft: str) -> None:
        """What the next reply runs on: 'Main + Draft' at the top of the chat."""
        self.model_name, self.draft_name = main, draft
        self.header.set_pair(main, draft)

    def _show_panel(self, panel: QWidget, on: bool) -> None:
        panel.setVisible(on)
        self._folded.discard(panel.objectName())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = event.size().width()
        for panel, toggle, limit in (
            (self.sidebar, self.sidebar_toggle, SIDEBAR_FOLDS_BELOW),
            (self.conversations, self.conversations_toggle, CONVERSATIONS_FOLD_BELOW),
        ):
            name = panel.objectName()
            if width < limit <= self._last_width or (width < limit and not self._last_width):
                if toggle.isChecked():
                    toggle.setChecked(False)
                    self._folded.add(name)
            elif width >= limit > self._last_width and name in self._folded:
                toggle.setChecked(True)
        self._last_width = width

    def _on_visualize(self, on: bool) -> None:
        self.preferences.set("visualize_drafts", on)
        self.view.set_visualize(on)

    def _on_show_rejected(self, on: bool) -> None:
        self.preferences.set("show_rejected", on)
        self.view.set_show_rejected(on)

    # --- conversations ---------------------------------------------------------------------------
    def refresh_conversations(self) -> None:
        self.conversations.fill(self.store.conversations(self.search.text().strip()), self.conversation_id)

    def open_latest_or_new(self) -> None:
        convs = self.store.conversations()
        if convs:
            self.open_conversation(convs[0].id)
        else:
            self.new_conversation()

    def new_conversation(self) -> None:
        if self.busy:
            return
        self.conversation_id = self.store.create_conversation()
        self.view.set_messages([])
        self.refresh_conversations()
        self.prompt.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        try:
            stored = self.store.messages(conversation_id)
        except ConversationUnreadableError as exc:  # shown in its place; the others still open
            stored = []
            self.show_error(str(exc))
        if note := self.store.damage_note(conversation_id):
            self.show_error(note)
        self.view.set_messages(
            [MessageView.from_stored(m.role, m.content, m.origins, m.stats) for m in stored]
        )
        self.refresh_conversations()

    def _on_conversation_selected(self, conversation_id: int) -> None:
        if not self.busy and conversation_id != self.conversation_id:
            self.open_conversation(conversation_id)

    def _on_rename(self) -> None:
        if self.conversation_id is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:")
        if ok and title.strip():
            self.store.rename(self.conversation_id, title)
            self.refresh_conversations()

    def _on_delete(self) -> None:
        if self.conversation_id is None or self.busy:
            return
        self.store.delete(self.conversation_id)
        self.conversation_id = None
        self.open_latest_or_new()

    # --- sending -------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    def _request(self) -> GenerationRequest:
        values = self.sidebar.values()
        messages: list[ChatMessage] = []
        if values.get("system_prompt"):
            messages.append(ChatMessage(Role.SYSTEM, values["system_prompt"]))
        for m in self.view.messages:
            if m is not self._continuing:
                messages.append(ChatMessage(Role(m.role), m.text))
        if self._continuing is not None:
            messages.append(ChatMessage(Role.ASSISTANT, self._continuing.text))
        return GenerationRequest(
            messages=tuple(messages),
            max_tokens=int(values["max_tokens"]),
            sampling=model_settings.sampling_from(values),
            draft=model_settings.draft_from(values, self.sidebar.engine),
        )

    def _start(self) -> None:
        self.banner.hide()
        request = self._request()
        self.busy = True
        self.view.begin_stream(self._continuing, title=self.model_name, with_draft=bool(self.draft_name))
        self._update_buttons()
        self.generateRequested.emit(request)

    def send(self) -> None:
        text = self.prompt.toPlainText().strip()
        if not text or self.busy:
            return
        if not self.model_loaded:
            self.show_error("Load a model first (Ctrl+L).")
            return
        if self.conversation_id is None:
            self.new_conversation()
        assert self.conversation_id is not None
        self.store.add_message(self.conversation_id, StoredMessage("user", text))
        if not self.view.messages:
            self.store.rename(self.conversation_id, text[:40])
            self.refresh_conversations()
        self.view.add_message(MessageView("user", text))
        self.prompt.clear()
        self._continuing = None
        self._start()

    def regenerate(self) -> None:
        if self.busy or not self.model_loaded or self.conversation_id is None:
            return
        stored = self.store.messages(self.conversation_id)
        if not stored or stored[-1].role != "assistant" or stored[-1].id is None:
            return
        self.store.truncate_after(self.conversation_id, stored[-1].id)
        self.view.remove_last()
        self._continuing = None
        self._start()

    def continue_reply(self) -> None:
        if self.busy or not self.model_loaded or self.conversation_id is None:
            return
        if not self.view.messages or self.view.messages[-1].role != "assistant":
            return
        stored = self.store.messages(self.conversation_id)
        self._stored_reply = stored[-1] if stored and stored[-1].role == "assistant" else None
        self._continuing = self.view.messages[-1]
        self._start()

    def edit_last(self) -> None:
        if self.busy or self.conversation_id is None:
            return
        stored = self.store.messages(self.conversation_id)
        users = [m for m in stored if m.role == "user"]
        if not users or users[-1].id is None:
            return
        self.store.truncate_after(self.conversation_id, users[-1].id)
        self.open_conversation(self.conversation_id)
        self.prompt.setPlainText(users[-1].content)
        self.prompt.setFocus()

    def copy_last_reply(self) -> None:
        replies = [m for m in self.view.messages if m.role == "assistant"]
        if replies:
            QGuiApplication.clipboard().setText(replies[-1].text)

    def _on_reply_action(self, key: str, message: MessageView) -> None:
        if key == "copy":
            QGuiApplication.clipboard().setText(message.text)
        elif key == "edit":
            self.edit_last()
        elif key == "regenerate":
            self.regenerate()
        elif key == "continue":
            self.continue_reply()

    def stop(self) -> None:
        if self.busy:
            self.stopRequested.emit()

    # --- results from the worker -------------------------------------------------------------
    def on_tokens(self, batch: StreamBatch) -> None:
        self.view.append_batch(batch)

    def on_finished(self, result: GenerationResult | None) -> None:
        if not self.busy:
            return  # a reply already saved as stopped (the window is closing)
        stats = result.stats.to_dict() if result is not None else None
        if result is not None and result.error:
            self.show_error(f"Generation stopped: {result.error}")
        self._finish(stats)

    def on_failed(self, message: str) -> None:
        self.show_error(message)
        if self.busy:
            self._finish(None, discard_if_empty=True)

    def _finish(self, stats: dict[str, Any] | None, discard_if_empty: bool = False) -> None:
        if stats is not None:
            stats["model_name"] = self.model_name
            if stats.get("draft_model") and self.draft_name:
                stats["draft_name"] = self.draft_name
        message = self.view.end_stream(stats)
        self.busy = False
        if message is not None and self.conversation_id is not None:
            if discard_if_empty and not message.text and self._continuing is None:
                self.view.remove_last()
            elif self._continuing is not None and self._stored_reply is not None:
                self._stored_reply.content = message.text
                self._stored_reply.origins = message.origins
                self._stored_reply.stats = message.stats_for_storage()
                self.store.update_message(self._stored_reply)
            else:
                self.store.add_message(
                    self.conversation_id,
                    StoredMessage("assistant", message.text, message.origins, message.stats_for_storage()),
                )
        self._continuing = None
        self._stored_reply = None
        self._update_buttons()
        self.replyFinished.emit()

    def save_partial(self) -> None:
        """The window is closing mid-reply: keep what arrived, marked as stopped."""
        if not self.busy or self.view.streaming is None:
            return
        self._finish(GenerationStats(stop_reason=StopReason.CANCELLED).to_dict())

    def _update_buttons(self) -> None:
        self.composer.set_busy(self.busy)
        self.view.set_busy(self.busy)
        for b in (self.new_button, self.delete_button):
            b.setEnabled(not self.busy)

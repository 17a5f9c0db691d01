"""The Chat page: conversations on the left, the transcript and composer in the middle, the
config sidebar on the right. It turns user actions into requests for the engine worker and
stores every finished or stopped reply."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.chat.store import ChatStore, ConversationUnreadableError, StoredMessage
from app.core import model_settings
from app.core.events import GenerationResult, GenerationStats, StopReason
from app.core.request import ChatMessage, GenerationRequest, Role
from app.ui.chat_view import ChatView, MessageView
from app.ui.sidebar import ConfigSidebar


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter is a newline."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class ChatPage(QWidget):
    generateRequested = Signal(object)  # GenerationRequest
    stopRequested = Signal()
    replyFinished = Signal()

    def __init__(self, store: ChatStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.conversation_id: int | None = None
        self.busy = False
        self.model_loaded = False
        self._continuing: MessageView | None = None
        self._stored_reply: StoredMessage | None = None

        # left: conversations
        left = QWidget()
        left_l = QVBoxLayout(left)
        self.search = QLineEdit(placeholderText="Search conversations")
        self.search.textChanged.connect(self.refresh_conversations)
        self.conv_list = QListWidget()
        self.conv_list.currentItemChanged.connect(self._on_conversation_selected)
        buttons = QHBoxLayout()
        self.new_button = QPushButton("New")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.rename_button = QPushButton("Rename")
        self.delete_button = QPushButton("Delete")
        for b in (self.new_button, self.rename_button, self.delete_button):
            buttons.addWidget(b)
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self._on_rename)
        self.delete_button.clicked.connect(self._on_delete)
        left_l.addWidget(self.search)
        left_l.addWidget(self.conv_list, 1)
        left_l.addLayout(buttons)

        # centre: banner, transcript, composer
        centre = QWidget()
        centre_l = QVBoxLayout(centre)
        self.banner = QLabel()
        self.banner.setObjectName("errorBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.view = ChatView()
        self.prompt = PromptEdit()
        self.prompt.setPlaceholderText("Type a message (Enter to send, Shift+Enter for a new line)")
        self.prompt.setFixedHeight(90)
        self.prompt.submitted.connect(self.send)
        actions = QHBoxLayout()
        self.send_button = QPushButton("Send")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop generating (Esc)")
        self.regen_button = QPushButton("Regenerate")
        self.continue_button = QPushButton("Continue")
        self.edit_button = QPushButton("Edit last")
        self.copy_button = QPushButton("Copy reply")
        for b in (
            self.edit_button,
            self.copy_button,
            self.regen_button,
            self.continue_button,
            self.stop_button,
            self.send_button,
        ):
            actions.addWidget(b)
        actions.insertStretch(2, 1)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        self.regen_button.clicked.connect(self.regenerate)
        self.continue_button.clicked.connect(self.continue_reply)
        self.edit_button.clicked.connect(self.edit_last)
        self.copy_button.clicked.connect(self.copy_last_reply)
        centre_l.addWidget(self.banner)
        centre_l.addWidget(self.view, 1)
        centre_l.addWidget(self.prompt)
        centre_l.addLayout(actions)

        self.sidebar = ConfigSidebar()
        self.sidebar.visualizeToggled.connect(self.view.set_visualize)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(self.sidebar)
        splitter.setSizes([200, 640, 320])
        splitter.setStretchFactor(1, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_conversation)
        self.refresh_conversations()
        self._update_buttons()

    # --- conversations ---------------------------------------------------------------------------
    def refresh_conversations(self) -> None:
        current = self.conversation_id
        self.conv_list.blockSignals(True)
        self.conv_list.clear()
        for conv in self.store.conversations(self.search.text().strip()):
            item = QListWidgetItem(conv.title)
            item.setData(Qt.ItemDataRole.UserRole, conv.id)
            self.conv_list.addItem(item)
            if conv.id == current:
                self.conv_list.setCurrentItem(item)
        self.conv_list.blockSignals(False)

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
        self.view.set_messages([MessageView(m.role, m.content, m.origins, m.stats) for m in stored])
        self.refresh_conversations()

    def _on_conversation_selected(self, item: QListWidgetItem | None, _prev: Any = None) -> None:
        if item is None or self.busy:
            return
        self.open_conversation(int(item.data(Qt.ItemDataRole.UserRole)))

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
        self.view.begin_stream(self._continuing)
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
        self.view.messages.append(MessageView("user", text))
        self.view.rerender()
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
        self.view.messages.pop()
        self.view.rerender()
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

    def stop(self) -> None:
        if self.busy:
            self.stopRequested.emit()

    # --- results from the worker -------------------------------------------------------------
    def on_tokens(self, batch: list[tuple[str, str]]) -> None:
        self.view.append_tokens(batch)

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
        message = self.view.end_stream(stats)
        self.busy = False
        if message is not None and self.conversation_id is not None:
            if discard_if_empty and not message.text and self._continuing is None:
                self.view.messages.pop()
                self.view.rerender()
            elif self._continuing is not None and self._stored_reply is not None:
                self._stored_reply.content = message.text
                self._stored_reply.origins = message.origins
                self._stored_reply.stats = stats
                self.store.update_message(self._stored_reply)
            else:
                self.store.add_message(
                    self.conversation_id, StoredMessage("assistant", message.text, message.origins, stats)
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
        self.send_button.setEnabled(not self.busy)
        self.stop_button.setEnabled(self.busy)
        for b in (
            self.regen_button,
            self.continue_button,
            self.edit_button,
            self.new_button,
            self.delete_button,
        ):
            b.setEnabled(not self.busy)

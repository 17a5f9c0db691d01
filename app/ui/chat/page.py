"""The Chat page: conversations on the left, the transcript and composer in the middle, the
config sidebar on the right.

It is a view of the chat session (app/chat/session.py): it shows the conversation the session
shows, sends what the user does to the session, and streams the reply in flight, which
belongs to the conversation it started in even while the user reads another.

The side panels fold away (the sidebar first) when the page gets narrow, so the transcript
keeps a readable width; the header's buttons open them again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from app.chat.chat_actions import card_reasons, why_not
from app.chat.context_meter import ContextReading, meter_job
from app.chat.model_state import ModelState
from app.chat.reply import SEND
from app.chat.reply_flight import Flight
from app.chat.session import DELETE, ChatSession, FixedPair
from app.chat.store import ChatStore
from app.engines.drafting import PROMPT_LOOKUP_KEY
from app.library.model_labels import hover_text
from app.library.preferences import Preferences
from app.ui.chat.composer import Composer
from app.ui.chat.context_meter import ContextMeter
from app.ui.chat.conversations import ConversationPanel
from app.ui.chat.header import ChatHeader
from app.ui.chat.notices import ChatNotices
from app.ui.chat.panel_folding import PanelFolding
from app.ui.chat.replies import ChatReplies
from app.ui.chat.reply_commands import ReplyCommands
from app.ui.chat.sidebar import ConfigSidebar
from app.ui.chat.transcript.view import ChatView
from app.ui.theme.colours import LIGHT, Theme

SIDEBAR_FOLDS_BELOW = 1080  # page width under which the config sidebar folds away
CONVERSATIONS_FOLD_BELOW = 760


class ChatPage(QWidget):
    generateRequested = Signal(object)  # ReplyJob
    stopRequested = Signal()
    replyFinished = Signal()
    stateChanged = Signal()  # what the chat's actions can do may have changed
    contextCountRequested = Signal(object)  # ContextJob: the meter's count, for the engine thread

    def __init__(
        self,
        store: ChatStore,
        preferences: Preferences | None = None,
        parent: QWidget | None = None,
        session: ChatSession | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.session = session or ChatSession(store)
        self.preferences = preferences or Preferences()
        self._shown_id: int | None = None
        self._unsent: dict[int, str] = {}  # conversation -> what was typed there, not sent

        self.conversations = ConversationPanel()
        self.conversations.conversationChosen.connect(self.open_conversation)
        self.conversations.searchChanged.connect(lambda _t: self.refresh_conversations())
        self.search = self.conversations.search
        self.conv_list = self.conversations.list
        self.new_button = self.conversations.new_button
        self.rename_button = self.conversations.rename_button
        self.delete_button = self.conversations.delete_button
        self.new_button.clicked.connect(self.new_conversation)
        self.rename_button.clicked.connect(self.rename_conversation)
        self.delete_button.clicked.connect(self.delete_conversation)

        # centre: header (panels, the loaded pair), banner, transcript, hints, composer
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
        self.notices = ChatNotices(self.session, self._show_flight, self.stop, self)
        self.flight_hint = self.notices.flight_hint
        self.undo_hint = self.notices.undo_hint
        self.setup_hint = self.notices.setup_hint
        self.note_hint = self.notices.note_hint
        self.unsaved_hint = self.notices.unsaved_hint
        self.composer = Composer()
        self.prompt = self.composer.prompt
        self.send_button = self.composer.send_button
        self.stop_button = self.composer.stop_button
        self.stop_button.clicked.connect(self.stop)
        composer_col = QVBoxLayout()
        for hint in self.notices.bars():
            hint.setMaximumWidth(self.view.column_width())  # never wider than the message box
            composer_col.addWidget(hint)
        composer_col.addWidget(self.composer)
        self.meter = ContextMeter()
        composer_col.addWidget(self.meter)
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(16, 6, 16, 12)
        composer_row.addStretch(1)
        composer_row.addLayout(composer_col, 100)
        composer_row.addStretch(1)
        self.composer.setMaximumWidth(self.view.column_width())
        self.meter.setMaximumWidth(self.view.column_width())
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
        self.folding = PanelFolding(
            [
                (self.sidebar, self.sidebar_toggle, SIDEBAR_FOLDS_BELOW),
                (self.conversations, self.conversations_toggle, CONVERSATIONS_FOLD_BELOW),
            ]
        )
        self.replies = ChatReplies(self.session, self.view, self)
        self.replies.generateRequested.connect(self.generateRequested)
        self.replies.problemRaised.connect(self.show_error)
        self.replies.changed.connect(self.update_state)
        self.replies.messageReturned.connect(self.prompt.setPlainText)
        self.replies.replyFinished.connect(self.replyFinished)
        self.replies.replyFinished.connect(self.meter.count_now)
        self.commands = ReplyCommands(
            self.session,
            self.replies,
            self.view,
            self.sidebar,
            self.prompt,
            self.banner,
            self.notices,
            self.show_error,
            self,
        )
        self.prompt.submitted.connect(self.commands.send)
        self.send_button.clicked.connect(self.commands.send)
        self.meter.countRequested.connect(self._on_count_due)
        self.prompt.textChanged.connect(self.meter.count_soon)
        for form in self.sidebar.forms.values():
            form.valueChanged.connect(lambda _name, _value: self.meter.count_soon())

        events = self.session.events
        events.conversation.connect(self._on_conversation)
        events.messages.connect(self._on_messages)
        events.messages.connect(self.meter.count_soon)
        events.conversations.connect(self.refresh_conversations)
        events.reply.connect(lambda _r: self.show_pair())
        events.problem.connect(self.show_error)
        events.deleted.connect(self.notices.on_deleted)
        events.unsaved.connect(self.notices.on_unsaved)
        self.set_theme(LIGHT)
        self.refresh_conversations()
        self.update_state()

    # --- what the page says about the session -------------------------------------------------
    @property
    def conversation_id(self) -> int | None:
        return self.session.conversation_id

    @property
    def busy(self) -> bool:
        return self.session.reply is not None

    def why_not(self, action: str) -> str:
        """Why a chat action cannot run now ("" when it can), for buttons, menus, tooltips."""
        return why_not(self.session, action)

    # --- look -------------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.view.set_theme(theme)
        self.composer.set_theme(theme)
        self.header.set_theme(theme)

    def set_model_pair(
        self, main: str, draft: str, main_key: str | None = None, draft_key: str | None = None
    ) -> None:
        """A pair to run on without a model state (tests, tools): names and keys."""
        keys = (main_key if main_key is not None else main, draft_key if draft_key is not None else draft)
        self.session.models = FixedPair(keys[0], keys[1], {keys[0]: main, keys[1]: draft})
        self.show_pair()

    def show_pair(self) -> None:
        """What the next reply runs on, 'Main + Draft', at the top of the chat; a draft chosen
        during a reply says it applies to the next one."""
        m = self.session.models
        main, chosen = m.loaded_key, m.chosen_draft
        if not main:
            self.header.set_pair("", "")
        else:
            lookup = chosen == PROMPT_LOOKUP_KEY
            draft = "Prompt lookup" if lookup else (m.name(chosen) or chosen if chosen else "")
            detail = "no draft model" if lookup else ("main + draft" if chosen else "no draft")
            if chosen != m.draft_key:
                if self.session.reply is not None:
                    detail += ", from the next reply"
                elif chosen:
                    detail += ", loading the draft…"
            self.header.set_pair(m.name(main) or main, draft, detail)
        self.update_state()

    def _on_count_due(self, serial: int) -> None:
        typed = self.prompt.toPlainText()
        self.contextCountRequested.emit(
            meter_job(serial, self.session.messages, typed, self.sidebar.values())
        )

    def show_context(self, reading: ContextReading) -> None:
        """The engine thread's count (the latest one shows; older ones are dropped)."""
        self.meter.show_reading(reading)

    def bind_models(self, state: ModelState) -> None:
        """Follow the model state (the one owner of the pair): the pair, the settings and
        drafts (the sidebar), the models a conversation used (offered above the message box),
        and what went wrong."""
        self.session.models = state

        def on_pair(main: str, _draft: str) -> None:
            if not main:
                self.meter.clear()
            entry = state.entry(main)
            self.pair_label.set_tip(hover_text(entry) if entry else "")
            self.show_pair()

        state.events.pair.connect(on_pair)
        state.events.chosen_draft.connect(lambda _k: self.show_pair())
        state.events.problem.connect(self.show_error)
        self.sidebar.bind(state)
        self.notices.bind_offers(state)
        self.show_pair()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.folding.resized(event.size().width())

    def _on_visualize(self, on: bool) -> None:
        self.preferences.set("visualize_drafts", on)
        self.view.set_visualize(on)

    def _on_show_rejected(self, on: bool) -> None:
        self.preferences.set("show_rejected", on)
        self.view.set_show_rejected(on)

    # --- conversations ---------------------------------------------------------------------------
    def refresh_conversations(self) -> None:
        replying = self.session.reply.conversation_id if self.session.reply else None
        self.conversations.fill(
            self.store.conversations(self.search.text().strip()), self.conversation_id, replying
        )

    def open_latest_or_new(self) -> None:
        self.session.open_latest_or_new()

    def new_conversation(self) -> None:
        self.session.new()
        self.prompt.setFocus()

    def open_conversation(self, conversation_id: int) -> None:
        if conversation_id != self.conversation_id:
            self.session.open(conversation_id)

    def _on_conversation(self, cid: int | None) -> None:
        # what was typed and not sent stays with its conversation
        if self._shown_id is not None:
            self._unsent[self._shown_id] = self.prompt.toPlainText()
        self._shown_id = cid
        self.prompt.setPlainText(self._unsent.pop(cid, "") if cid is not None else "")
        self.banner.hide()
        self.setup_hint.hide()
        self.view.end_edit()
        self.compose()
        self.refresh_conversations()

    def _on_messages(self) -> None:
        if not self.replies.quiet:
            self.compose()
        self.update_state()

    def compose(self) -> None:
        """The shown conversation as stored, with the reply in flight in its place."""
        self.replies.compose()
        self.update_state()

    def rename_conversation(self) -> None:
        if self.conversation_id is None:
            return
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=self.session.title)
        if ok and title.strip():
            self.session.rename(title)

    def delete_conversation(self) -> None:
        why = self.why_not("delete_chat")
        if why:
            self.show_error(why)
            return
        self.session.delete()

    # --- sending -------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

    def focus_message(self) -> None:
        self.prompt.setFocus()

    def stop(self) -> None:
        if self.busy:
            self.stopRequested.emit()

    # --- the reply in flight (see ChatReplies) ------------------------------------------------------
    @property
    def flight(self) -> Flight | None:
        return self.replies.flight

    def _show_flight(self) -> None:
        if self.flight is not None:
            self.open_conversation(self.flight.reply.conversation_id)

    def save_partial(self) -> None:
        """The window is closing mid-reply: keep what arrived, with the stats measured so far."""
        self.replies.save_partial()

    # --- state of the buttons ------------------------------------------------------------------------
    def update_state(self) -> None:
        s = self.session
        here = s.replying_here
        self.composer.set_busy(here)
        self.composer.set_why_not("" if here else s.why_not(SEND))
        self.view.set_action_reasons(card_reasons(self.session))
        why_delete = s.why_not(DELETE)
        self.delete_button.setEnabled(not why_delete)
        self.delete_button.setToolTip(why_delete or "Delete this conversation (Undo brings it back)")
        self.rename_button.setEnabled(s.conversation_id is not None)
        self.rename_button.setToolTip("Rename this conversation (F2)")
        self.notices.show_flight()
        self.stateChanged.emit()

"""The Chat page: conversations on the left, the transcript and composer in the middle, the
config sidebar on the right.

It is a view of the chat session (app/chat/session.py): it shows the conversation the session
shows, sends what the user does to the session, and streams the reply in flight, which
belongs to the conversation it started in even while the user reads another.

The side panels fold away (the sidebar first) when the page gets narrow, so the transcript
keeps a readable width; the header's buttons open them again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLabel, QSplitter, QVBoxLayout, QWidget

from app.chat.chat_actions import card_reasons, why_not
from app.chat.message_model import MessageView
from app.chat.model_state import ModelState, Offer
from app.chat.reply_flight import Flight
from app.chat.session import (
    CONTINUE,
    DELETE,
    EDIT,
    REGENERATE,
    SEND,
    UNSAVED,
    ChatSession,
    FixedPair,
    Unsaved,
)
from app.chat.store import ChatStore
from app.core.model_settings import SPECS
from app.engines.drafting import PROMPT_LOOKUP_KEY
from app.library.model_labels import hover_text
from app.library.preferences import Preferences
from app.ui.chat.composer import Composer
from app.ui.chat.conversations import ConversationPanel
from app.ui.chat.header import ChatHeader
from app.ui.chat.hints import HintBar
from app.ui.chat.panel_folding import PanelFolding
from app.ui.chat.replies import ChatReplies, ReplySetup
from app.ui.chat.sidebar import ConfigSidebar
from app.ui.chat.transcript.card import NEXT, PREVIOUS
from app.ui.chat.transcript.view import ChatView
from app.ui.theme.colours import LIGHT, Theme

SIDEBAR_FOLDS_BELOW = 1080  # page width under which the config sidebar folds away
CONVERSATIONS_FOLD_BELOW = 760
UNDO_SECONDS = 20
NOTE_SECONDS = 4  # how long a note such as "Copied ..." stays
SAVE_RETRY_MS = 5000  # a reply the disk had no room for is tried again this often


class ChatPage(QWidget):
    generateRequested = Signal(object)  # ReplyJob
    stopRequested = Signal()
    replyFinished = Signal()
    stateChanged = Signal()  # what the chat's actions can do may have changed

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
        self.view.actionRequested.connect(self._on_reply_action)
        self.flight_hint = HintBar("flightHint")
        self.flight_hint.add_button("show", "Show it", "Go to that conversation", self._show_flight)
        self.flight_hint.add_button("stop", "Stop", "Stop that reply (Esc); what it wrote is kept", self.stop)
        self.undo_hint = HintBar("undoHint")
        self.undo_hint.add_button("undo", "Undo", "Bring the conversation back", self.undo_delete)
        self.setup_hint = HintBar("setupHint")
        self.note_hint = HintBar("noteHint")  # a short note on what just happened ("Copied ...")
        self.unsaved_hint = HintBar("unsavedHint")
        self.unsaved_hint.add_button("save", "Try again", "Save the reply now", self.save_unsaved)
        self._save_retry = QTimer(self)
        self._save_retry.setInterval(SAVE_RETRY_MS)
        self._save_retry.timeout.connect(self.save_unsaved)
        self.composer = Composer()
        self.prompt = self.composer.prompt
        self.send_button = self.composer.send_button
        self.stop_button = self.composer.stop_button
        self.prompt.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.stop)
        composer_col = QVBoxLayout()
        for hint in (self.unsaved_hint, self.flight_hint, self.undo_hint, self.setup_hint, self.note_hint):
            hint.setMaximumWidth(self.view.column_width())  # never wider than the message box
            composer_col.addWidget(hint)
        composer_col.addWidget(self.composer)
        composer_row = QHBoxLayout()
        composer_row.setContentsMargins(16, 6, 16, 12)
        composer_row.addStretch(1)
        composer_row.addLayout(composer_col, 100)
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
        self.replies.editReturned.connect(self._on_edit_returned)
        self.replies.messageReturned.connect(self.prompt.setPlainText)
        self.replies.replyFinished.connect(self.replyFinished)

        events = self.session.events
        events.conversation.connect(self._on_conversation)
        events.messages.connect(self._on_messages)
        events.conversations.connect(self.refresh_conversations)
        events.reply.connect(lambda _r: self.show_pair())
        events.problem.connect(self.show_error)
        events.deleted.connect(self._on_deleted)
        events.unsaved.connect(self._on_unsaved)
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

    def bind_models(self, state: ModelState) -> None:
        """Follow the model state (the one owner of the pair): the pair, the settings and
        drafts (the sidebar), the models a conversation used (offered above the message box),
        and what went wrong."""
        self.session.models = state

        def on_pair(main: str, _draft: str) -> None:
            entry = state.entry(main)
            self.pair_label.set_tip(hover_text(entry) if entry else "")
            self.show_pair()

        state.events.pair.connect(on_pair)
        state.events.chosen_draft.connect(lambda _k: self.show_pair())
        state.events.offer.connect(self._on_offer)
        state.events.problem.connect(self.show_error)
        self.sidebar.bind(state)
        self.setup_hint.add_button(
            "load", "Load them", "Load the models this conversation used", state.load_offer
        )
        self.show_pair()

    def _on_offer(self, offer: Offer | None) -> None:
        if offer is None:
            self.setup_hint.hide()
            return
        self.setup_hint.buttons["load"].setVisible(offer.pair is not None)
        self.setup_hint.say(offer.text)

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

    def _on_deleted(self, _cid: int, title: str) -> None:
        self.undo_hint.say(f"Deleted “{title}”.", UNDO_SECONDS)

    def _on_unsaved(self, unsaved: Unsaved | None) -> None:
        """A reply the disk had no room for: say so, and try again until it is stored."""
        if unsaved is None:
            self._save_retry.stop()
            self.unsaved_hint.hide()
            return
        self.unsaved_hint.say(
            f"{UNSAVED[0].upper()}{UNSAVED[1:]} ({unsaved.why}). It stays here and is saved as soon as "
            "there is space."
        )
        self._save_retry.start()

    def save_unsaved(self) -> None:
        self.session.save_unsaved()

    def undo_delete(self) -> None:
        self.undo_hint.hide()
        self.session.undo_delete()

    # --- sending -------------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        self.banner.setText(message)
        self.banner.show()

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
            self.note_hint.say("No reply to copy yet.", NOTE_SECONDS)
            return
        self.copy_text(last.content, "the last reply")

    def copy_text(self, text: str, what: str) -> None:
        """Copied, and said so (a shortcut gives no other sign)."""
        QGuiApplication.clipboard().setText(text)
        self.note_hint.say(f"Copied {what} ({len(text)} characters).", NOTE_SECONDS)

    def show_version(self, step: int) -> None:
        last = self.session.last("assistant")
        if last is not None and last.id is not None and 0 <= last.version + step < last.versions:
            self.session.select_version(last.id, last.version + step)

    def focus_message(self) -> None:
        self.prompt.setFocus()

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
        if s.replying_elsewhere and s.reply is not None:
            self.flight_hint.say(f"A reply is being written in “{s.reply.title}”.")
        else:
            self.flight_hint.hide()
        self.stateChanged.emit()

"""The notes above the message box, and what each one does: a reply being written in another
conversation (Show it, Stop), a deleted conversation (Undo), the models a conversation used
(Load them), a short note on what just happened ("Copied ..."), and a reply the disk had no
room for, tried again until it is stored."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from app.chat.model_state import ModelState, Offer
from app.chat.reply import UNSAVED, Unsaved
from app.chat.session import ChatSession
from app.ui.chat.hints import HintBar

UNDO_SECONDS = 20
NOTE_SECONDS = 4  # how long a note such as "Copied ..." stays
SAVE_RETRY_MS = 5000  # a reply the disk had no room for is tried again this often


class ChatNotices(QObject):
    def __init__(
        self,
        session: ChatSession,
        show_flight: Callable[[], object],
        stop: Callable[[], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.flight_hint = HintBar("flightHint")
        self.flight_hint.add_button("show", "Show it", "Go to that conversation", show_flight)
        self.flight_hint.add_button("stop", "Stop", "Stop that reply (Esc); what it wrote is kept", stop)
        self.undo_hint = HintBar("undoHint")
        self.undo_hint.add_button("undo", "Undo", "Bring the conversation back", self.undo_delete)
        self.setup_hint = HintBar("setupHint")
        self.note_hint = HintBar("noteHint")  # a short note on what just happened ("Copied ...")
        self.unsaved_hint = HintBar("unsavedHint")
        self.unsaved_hint.add_button("save", "Try again", "Save the reply now", self.save_unsaved)
        self.save_retry = QTimer(self)
        self.save_retry.setInterval(SAVE_RETRY_MS)
        self.save_retry.timeout.connect(self.save_unsaved)

    def bars(self) -> tuple[HintBar, ...]:
        """Top to bottom, as they stand above the message box."""
        return (self.unsaved_hint, self.flight_hint, self.undo_hint, self.setup_hint, self.note_hint)

    def bind_offers(self, state: ModelState) -> None:
        """The models a conversation used, offered with a button that loads them."""
        state.events.offer.connect(self._on_offer)
        self.setup_hint.add_button(
            "load", "Load them", "Load the models this conversation used", state.load_offer
        )

    def _on_offer(self, offer: Offer | None) -> None:
        if offer is None:
            self.setup_hint.hide()
            return
        self.setup_hint.buttons["load"].setVisible(offer.pair is not None)
        self.setup_hint.say(offer.text)

    def note(self, text: str) -> None:
        self.note_hint.say(text, NOTE_SECONDS)

    def show_flight(self) -> None:
        """Says so while a reply is being written in a conversation not shown."""
        s = self.session
        if s.replying_elsewhere and s.reply is not None:
            self.flight_hint.say(f"A reply is being written in “{s.reply.title}”.")
        else:
            self.flight_hint.hide()

    def on_deleted(self, _cid: int, title: str) -> None:
        self.undo_hint.say(f"Deleted “{title}”.", UNDO_SECONDS)

    def undo_delete(self) -> None:
        self.undo_hint.hide()
        self.session.undo_delete()

    def on_unsaved(self, unsaved: Unsaved | None) -> None:
        """A reply the disk had no room for: say so, and try again until it is stored."""
        if unsaved is None:
            self.save_retry.stop()
            self.unsaved_hint.hide()
            return
        self.unsaved_hint.say(
            f"{UNSAVED[0].upper()}{UNSAVED[1:]} ({unsaved.why}). It stays here and is saved as soon as "
            "there is space."
        )
        self.save_retry.start()

    def save_unsaved(self) -> None:
        self.session.save_unsaved()

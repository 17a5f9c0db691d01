"""The chat's replies: starting one in the conversation shown, streaming it (on screen or not:
it belongs to the conversation it began in), and ending it: committed with its stats, or, when
nothing came, leaving everything as it was.

A reply has an identity (`Reply.id`): the engine thread names it in every batch, result and
failure, and what names another reply (one already ended) is dropped, never added to this one.

"Reading the conversation… 3 s" shows until the first token, so a long prompt never looks
like a frozen, empty reply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.chat.message_model import MessageView
from app.chat.reply import CONTINUE, EDIT, REGENERATE, SEND, Reply
from app.chat.reply_flight import Flight, ReplyJob, build_request
from app.chat.session import ChatSession
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult
from app.ui.chat.transcript.view import ChatView


@dataclass(frozen=True)
class ReplySetup:
    """What a reply starts with, from the page: the sidebar's values."""

    values: dict[str, Any]  # every setting, for the request
    engine: str
    settings: dict[str, Any]  # the ones the conversation keeps


class ChatReplies(QObject):
    generateRequested = Signal(object)  # ReplyJob, for the engine thread
    problemRaised = Signal(str)  # something the user should read
    changed = Signal()  # a reply started or ended: what the buttons can do changed
    editReturned = Signal(str)  # an edit that brought no reply, back to the message box
    messageReturned = Signal(str)  # a message sent on a full disk that brought no reply, likewise
    replyFinished = Signal()

    def __init__(self, session: ChatSession, view: ChatView, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view = view
        self.flight: Flight | None = None
        self.quiet = False  # the view already shows what the session just stored
        self._reading = QTimer(self)
        self._reading.setInterval(500)
        self._reading.timeout.connect(self._on_reading_tick)

    # --- starting ------------------------------------------------------------------------------
    def begin(self, kind: str, setup: ReplySetup, text: str = "") -> Reply | None:
        session, view = self.session, self.view
        why = session.why_not(kind)
        if why:
            self.problemRaised.emit(why)
            return None
        if kind != EDIT:
            view.end_edit()
        self.quiet = True
        try:
            reply = session.begin(kind, text, setup.settings)
        except ValueError as exc:
            self.problemRaised.emit(str(exc))
            return None
        finally:
            self.quiet = False
        models = session.models
        flight = Flight.start(reply, models.loaded_key, models.chosen_draft, models.name)
        self.flight = flight
        if kind == SEND and view.editing() is None:  # the one path worth not re-rendering for
            user = session.messages[-1]
            view.add_message(MessageView.from_stored("user", user.content, [], None, user.id))
            flight.message = view.begin_stream(
                None, title=flight.model_name, with_draft=flight.with_draft, live=flight.live
            )
        else:
            self.compose()
        self._reading.start()
        self._on_reading_tick()
        self.changed.emit()
        request = build_request(reply, setup.values, setup.engine)
        self.generateRequested.emit(ReplyJob(reply.id, request))
        return reply

    def compose(self) -> None:
        """The shown conversation as stored, with the reply in flight in its place."""
        views = [
            MessageView.from_stored(m.role, m.content, m.origins, m.stats, m.id, m.version, m.versions)
            for m in self.session.messages
        ]
        self.view.set_messages(self._place(views))
        self._resume_on_screen()

    def _place(self, views: list[MessageView]) -> list[MessageView]:
        """The messages with this reply in its place, when it is this conversation's."""
        f = self.flight
        session = self.session
        if f is None or f.reply.conversation_id != session.conversation_id:
            return views
        kind, target = f.reply.kind, f.reply.target
        if kind == SEND:
            views.append(f.message)
        elif kind in (REGENERATE, CONTINUE) and views:
            views[-1] = f.message
        elif kind == EDIT and target is not None:
            at = next((i for i, m in enumerate(session.messages) if m.id == target.id), len(views))
            views = [*views[:at], MessageView("user", f.reply.edited_text), f.message]
        return views

    def _resume_on_screen(self) -> None:
        f = self.flight
        if f is not None and self.view.messages and self.view.messages[-1] is f.message:
            self.view.begin_stream(f.message, title=f.model_name, with_draft=f.with_draft, live=f.live)
            if not f.live.tokens:
                self._on_reading_tick()

    # --- streaming -------------------------------------------------------------------------------
    def on_started(self, reply_id: int, model_key: str, draft_key: str) -> None:
        """The engine thread leased this pair for the reply: the card, the live strip, the
        stats and the conversation name it, whatever was chosen when it was sent."""
        f = self._ours(reply_id)
        if f is None:
            return
        f.ran_on(model_key, draft_key)
        self.session.ran_on(f.reply, model_key, draft_key)
        if self._shown(f):
            self.view.set_stream_pair(f.model_name, f.with_draft)

    def _ours(self, reply_id: int) -> Flight | None:
        """The reply in flight when `reply_id` names it (news of an ended reply is dropped)."""
        f = self.flight
        return f if f is not None and f.reply.id == reply_id else None

    def _shown(self, f: Flight) -> bool:
        return f.reply.conversation_id == self.session.conversation_id and self.view.streaming is f.message

    def _on_reading_tick(self) -> None:
        f = self.flight
        if f is None or f.live.tokens:
            self._reading.stop()
            return
        if self._shown(f):
            self.view.set_reading(time.monotonic() - f.started)

    def on_tokens(self, reply_id: int, batch: StreamBatch) -> None:
        f = self._ours(reply_id)
        if f is None:
            return
        batch = f.shift(batch)
        if self._shown(f):
            self.view.append_batch(batch)
        else:
            f.absorb(batch)

    # --- the end -----------------------------------------------------------------------------------
    def on_finished(self, reply_id: int, result: GenerationResult | None) -> None:
        if self._ours(reply_id) is None:
            return  # an ended reply (saved as stopped when the window closed)
        if result is not None and result.error:
            self.problemRaised.emit(f"Generation stopped: {result.error}")
        self._finish(result, failed=result is None or bool(result.error))

    def on_failed(self, reply_id: int, message: str) -> None:
        if self._ours(reply_id) is None:
            return
        self.problemRaised.emit(message)
        self._finish(None, failed=True)

    def _finish(self, result: GenerationResult | None, failed: bool) -> None:
        f = self.flight
        assert f is not None
        self.flight = None
        self._reading.stop()
        stats = f.final_stats(result)
        shown = self._shown(f)
        if shown:
            self.view.end_stream(stats)
        else:
            f.message.stats = stats
        if f.worth_keeping(failed):
            self.quiet = shown  # the view shows it already
            try:
                stored = self.session.commit(f.stored())
            finally:
                self.quiet = False
            f.message.id, f.message.version, f.message.versions = stored.id, stored.version, stored.versions
        else:
            self.session.abandon()
            if f.reply.kind == EDIT:  # nothing came back: the edited words are not lost
                self.editReturned.emit(f.reply.edited_text)
            elif f.reply.unsaved_user is not None:  # nor a message the full disk could not keep
                self.messageReturned.emit(f.reply.unsaved_user.content)
        self.changed.emit()
        self.replyFinished.emit()

    def save_partial(self) -> None:
        """The window is closing mid-reply: keep what arrived, with the stats measured so far."""
        if self.flight is not None:
            self._finish(None, failed=False)

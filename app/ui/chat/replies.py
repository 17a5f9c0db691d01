"""The chat page's replies: starting one in the conversation shown, streaming it (on screen or
not: it belongs to the conversation it began in), and ending it: committed with its stats,
or, when nothing came, leaving everything as it was.

"Reading the conversation… 3 s" shows until the first token, so a long prompt never looks
like a frozen, empty reply.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app.chat.message_model import MessageView
from app.chat.reply_flight import Flight, build_request
from app.chat.session import CONTINUE, EDIT, REGENERATE, SEND, Reply
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult

if TYPE_CHECKING:
    from app.ui.chat.page import ChatPage


class ChatReplies(QObject):
    def __init__(self, page: ChatPage) -> None:
        super().__init__(page)
        self.page = page
        self.flight: Flight | None = None
        self._reading = QTimer(self)
        self._reading.setInterval(500)
        self._reading.timeout.connect(self._on_reading_tick)

    # --- starting ------------------------------------------------------------------------------
    def begin(self, kind: str, text: str = "") -> Reply | None:
        page, session, view = self.page, self.page.session, self.page.view
        why = session.why_not(kind)
        if why:
            page.show_error(why)
            return None
        page.banner.hide()
        if kind != EDIT:
            view.end_edit()
        page.quiet = True
        try:
            reply = session.begin(kind, text, page.conversation_settings())
        except ValueError as exc:
            page.show_error(str(exc))
            return None
        finally:
            page.quiet = False
        flight = Flight.start(reply, page.model_name, page.draft_name, session.draft_key)
        self.flight = flight
        if kind == SEND and view.editing() is None:  # the one path worth not re-rendering for
            user = session.messages[-1]
            view.add_message(MessageView.from_stored("user", user.content, [], None, user.id))
            flight.message = view.begin_stream(
                None, title=flight.model_name, with_draft=flight.with_draft, live=flight.live
            )
        else:
            page.compose()
        self._reading.start()
        self._on_reading_tick()
        page.update_state()
        page.generateRequested.emit(build_request(reply, page.sidebar.values(), page.sidebar.engine))
        return reply

    def place(self, views: list[MessageView]) -> list[MessageView]:
        """The shown conversation's messages with this reply in its place, when it is
        this conversation's (and the stream put back on screen)."""
        f = self.flight
        session = self.page.session
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

    def resume_on_screen(self) -> None:
        f = self.flight
        if f is not None and self.page.view.messages and self.page.view.messages[-1] is f.message:
            self.page.view.begin_stream(f.message, title=f.model_name, with_draft=f.with_draft, live=f.live)
            if not f.live.tokens:
                self._on_reading_tick()

    # --- streaming -------------------------------------------------------------------------------
    def shown(self, f: Flight) -> bool:
        return f.reply.conversation_id == self.page.conversation_id and self.page.view.streaming is f.message

    def _on_reading_tick(self) -> None:
        f = self.flight
        if f is None or f.live.tokens:
            self._reading.stop()
            return
        if self.shown(f):
            self.page.view.set_reading(time.monotonic() - f.started)

    def on_tokens(self, batch: StreamBatch) -> None:
        f = self.flight
        if f is None:
            return
        batch = f.shift(batch)
        if self.shown(f):
            self.page.view.append_batch(batch)
        else:
            f.absorb(batch)

    # --- the end -----------------------------------------------------------------------------------
    def on_finished(self, result: GenerationResult | None) -> None:
        if self.flight is None:
            return  # a reply already saved as stopped (the window is closing)
        if result is not None and result.error:
            self.page.show_error(f"Generation stopped: {result.error}")
        self.finish(result, failed=result is None or bool(result.error))

    def on_failed(self, message: str) -> None:
        self.page.show_error(message)
        if self.flight is not None:
            self.finish(None, failed=True)

    def finish(self, result: GenerationResult | None, failed: bool) -> None:
        page, f = self.page, self.flight
        assert f is not None
        self.flight = None
        self._reading.stop()
        stats = f.final_stats(result)
        shown = self.shown(f)
        if shown:
            page.view.end_stream(stats)
        else:
            f.message.stats = stats
        if f.worth_keeping(failed):
            page.quiet = shown  # the view shows it already
            try:
                stored = page.session.commit(f.stored())
            finally:
                page.quiet = False
            f.message.id, f.message.version, f.message.versions = stored.id, stored.version, stored.versions
        else:
            page.session.abandon()
            if f.reply.kind == EDIT:  # nothing came back: the edited words are not lost
                page.prompt.setPlainText(f.reply.edited_text)
                page.show_error(
                    "No reply came, so your message was not changed; your edit is in the message box."
                )
        page.update_state()
        page.replyFinished.emit()

    def save_partial(self) -> None:
        """The window is closing mid-reply: keep what arrived, with the stats measured so far."""
        if self.flight is not None:
            self.finish(None, failed=False)

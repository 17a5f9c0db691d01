"""The HTTP/1.1 connection: uvicorn's h11 protocol, with JSON errors and a head deadline.

uvicorn answers what its parser rejects (a garbage request line, a bad or negative
Content-Length, a request line and headers over 16 KB, an unsupported Transfer-Encoding)
itself, with a plain-text 400. Here those answers are OpenAI-style JSON with the status h11
suggests (431 for a head too large, 501 for an unknown transfer encoding, else 400). And a
connection must send its request line and headers within `head_timeout` seconds of opening
(or of its previous reply): uvicorn's keep-alive timer is reset by every byte, so a client
trickling a header a byte at a time would otherwise hold its connection forever. One that
sent nothing is closed quietly; one that sent part of a head gets a 408.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.server.errors import error_body

HEAD_LIMIT = 16 * 1024  # h11's default: request line and headers together


def _answer(status: int, detail: str) -> tuple[str, str]:
    if status == 431:
        return f"the request line and headers are over {HEAD_LIMIT // 1024} KB", "headers_too_large"
    if status == 501:
        return f"not supported: {detail}", "not_implemented"
    return f"malformed HTTP request: {detail}", "bad_http_request"


class GuardedH11Protocol(H11Protocol):
    head_timeout = 10.0  # set per server by `protocol_class`

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parse_error: h11.RemoteProtocolError | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        parse = self.conn.next_event

        def next_event() -> Any:  # remember why h11 refused the request, for the answer
            try:
                return parse()
            except h11.RemoteProtocolError as exc:
                self._parse_error = exc
                raise

        self.conn.next_event = next_event  # type: ignore[method-assign]

    # --- the head deadline ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request head arrived (or the end)
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        self._arm_head_timer()  # before a pipelined request's head is read (it cancels it)
        super().on_response_complete()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._on_head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        pending, _closed = self.conn.trailing_data
        if pending:
            seconds = f"{self.head_timeout:g}"
            self._send_json_error(
                408, f"the request line and headers did not arrive within {seconds} s", "request_timeout"
            )
        else:
            self.transport.close()

    # --- malformed requests ---------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        err = self._parse_error
        status = err.error_status_hint if err is not None else 400
        message, code = _answer(status, str(err) if err is not None else msg)
        self._send_json_error(status, message, code)

    def _send_json_error(self, status: int, message: str, code: str) -> None:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body = json.dumps(error_body(message, kind, code)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=status, headers=headers, reason=HTTPStatus(status).phrase.encode()),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:  # mid-reply on this connection: all we can do is close it
            pass
        self.transport.close()


def protocol_class(head_timeout: float) -> type[GuardedH11Protocol]:
    """The protocol with this server's head deadline."""
    return type("SpeculaH11Protocol", (GuardedH11Protocol,), {"head_timeout": head_timeout})

"""A small OpenAI-compatible server on 127.0.0.1 (the standard library's HTTP server), for the
servers we cannot run here: it answers /v1/models as vLLM, SGLang or a plain server does and
streams the chunks a test gives it (recorded or constructed replies of those servers), one
`data:` line each, with a pause between them when asked. It keeps every request it got, and
notices when a client hangs up midway."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class StubReplies:
    owned_by: str = "openai"
    models: list[str] = field(default_factory=lambda: ["stub-model"])
    chunks: list[dict[str, Any]] = field(default_factory=list)  # streamed in order, then [DONE]
    pause: float = 0.0  # seconds between chunks
    api_key: str | None = None
    refuse: tuple[int, dict[str, Any]] | None = None  # answer every POST with this status and body
    requests: list[dict[str, Any]] = field(default_factory=list)  # bodies received
    hung_up: threading.Event = field(default_factory=threading.Event)  # a client left mid-stream


def text_chunk(text: str, **extra: Any) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}], **extra}


def finish_chunk(reason: str = "stop", **extra: Any) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": reason}],
        **extra,
    }


def _handler(replies: StubReplies) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:  # quiet
            return

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if replies.api_key is None or self.headers.get("Authorization") == f"Bearer {replies.api_key}":
                return True
            self._json(401, {"error": {"message": "Invalid API key", "type": "authentication_error"}})
            return False

        def do_GET(self) -> None:
            if not self._authorized():
                return
            if self.path == "/v1/models":
                cards = [{"id": m, "object": "model", "owned_by": replies.owned_by} for m in replies.models]
                self._json(200, {"object": "list", "data": cards})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self._authorized():
                return
            replies.requests.append(body)
            if replies.refuse is not None:
                self._json(*replies.refuse)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for chunk in replies.chunks:
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if replies.pause:
                        time.sleep(replies.pause)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                replies.hung_up.set()
            self.close_connection = True

    return Handler


@contextmanager
def stub_server(replies: StubReplies) -> Iterator[str]:
    """The server's base address while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(replies))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

"""The local HTTP server: routing, API keys, CORS, size limits, streaming, disconnects.

Standard library only (ThreadingHTTPServer): one thread per connection; models are loaded,
shared and leased through the ModelRuntime (one generation per model at a time, first come
first served). A client that goes away cancels its generation at once: the cancel flag the
engine checks every round also looks at the socket.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.core.errors import (
    ContextOverflowError,
    DraftIncompatibleError,
    InvalidRequestError,
    SpeculaError,
)
from app.core.events import GenerationResult, GenerationStats, TokenEvent, TokenOrigin
from app.runtime import ClientGoneError, ModelBusyError, ModelRuntime, UnknownModelError
from app.server.api import (
    ApiError,
    ParsedRequest,
    chunk_body,
    completion_body,
    finish_reason,
    openai_model,
    parse_body,
    rest_model,
    stats_body,
)
from app.server.openapi import openapi_schema

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
LogCallback = Callable[[str], None]
GenerationCallback = Callable[[str, GenerationStats], None]  # model key, stats of a finished reply


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SocketWatch:
    """Cancel flag for the engine: set on request, or when the client has hung up."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._event = threading.Event()
        self._last = 0.0

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        if self._event.is_set():
            return True
        now = time.monotonic()
        if now - self._last < 0.02:
            return False
        self._last = now
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable and self._sock.recv(1, socket.MSG_PEEK) == b"":
                self._event.set()
        except (OSError, ValueError):
            self._event.set()
        return self._event.is_set()


class SpeculaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 1234,
        runtime: ModelRuntime | None = None,
        api_key: str | None = None,
        cors: bool = False,
        on_log: LogCallback | None = None,
        on_generation: GenerationCallback | None = None,
    ) -> None:
        if not is_loopback(host) and not api_key:
            raise InvalidRequestError(f"serving on {host} (not loopback) requires an API key (--api-key)")
        self.runtime = runtime or ModelRuntime()
        self.api_key = api_key
        self.cors = cors
        self.on_log = on_log
        self.on_generation = on_generation
        super().__init__((host, port), RequestHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}"

    def log_line(self, line: str) -> None:
        log.info(line)
        if self.on_log:
            self.on_log(line)


class RequestHandler(BaseHTTPRequestHandler):
    server: SpeculaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log_line(f"{self.address_string()} {format % args}")

    # --- plumbing ---------------------------------------------------------------------------------
    def _headers(self, status: int, content_type: str, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length is not None:
            self.send_header("Content-Length", str(length))
        if self.server.cors:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.end_headers()

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self._headers(status, "application/json", len(data))
        self.wfile.write(data)

    def _error(self, err: ApiError) -> None:
        self.close_connection = True
        self._json(err.status, err.body())

    def _authorized(self) -> bool:
        key = self.server.api_key
        if not key:
            return True
        given = self.headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), key.encode())

    def _read_json(self) -> Any:
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ApiError(411, "a Content-Length header is required", "length_required")
        try:
            length = int(length_text)
        except ValueError:
            raise ApiError(400, "invalid Content-Length", "invalid_request") from None
        if length > MAX_BODY_BYTES:
            if length <= 4 * MAX_BODY_BYTES:  # read it away so the client sees our answer
                self.rfile.read(length)
            raise ApiError(413, f"request body over {MAX_BODY_BYTES} bytes", "body_too_large")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError(400, f"request body is not valid JSON: {exc}", "invalid_json") from None

    # --- verbs --------------------------------------------------------------------------------------
    def do_OPTIONS(self) -> None:
        if not self.server.cors:
            self._error(ApiError(405, "CORS is not enabled on this server", "method_not_allowed"))
            return
        self._headers(204, "text/plain", 0)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        routes: dict[tuple[str, str], Callable[[], None]] = {
            ("GET", "/v1/models"): lambda: self._models(rest=False),
            ("GET", "/api/v0/models"): lambda: self._models(rest=True),
            ("GET", "/openapi.json"): lambda: self._json(200, openapi_schema()),
            ("POST", "/v1/chat/completions"): lambda: self._complete(chat=True, rest=False),
            ("POST", "/v1/completions"): lambda: self._complete(chat=False, rest=False),
            ("POST", "/api/v0/chat/completions"): lambda: self._complete(chat=True, rest=True),
            ("POST", "/api/v0/completions"): lambda: self._complete(chat=False, rest=True),
        }
        try:
            if not self._authorized():
                raise ApiError(
                    401,
                    "missing or wrong API key (Authorization: Bearer ...)",
                    "invalid_api_key",
                    "authentication_error",
                )
            handler = routes.get((method, path))
            if handler is None:
                if any(p == path for _, p in routes):
                    raise ApiError(405, f"{method} is not allowed on {path}", "method_not_allowed")
                raise ApiError(404, f"no such endpoint: {path}", "not_found")
            handler()
        except ApiError as err:
            self._error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # the server keeps serving
            log.exception("request failed")
            self._error(ApiError(500, f"internal error: {exc}", "internal_error", "server_error"))

    def _models(self, rest: bool) -> None:
        runtime = self.server.runtime
        runtime.library.rescan()
        loaded = runtime.loaded_keys()
        entries = sorted(runtime.library.entries.values(), key=lambda e: e.key)
        data = [rest_model(e, e.key in loaded) if rest else openai_model(e) for e in entries]
        self._json(200, {"object": "list", "data": data})

    # --- generation --------------------------------------------------------------------------------
    def _complete(self, chat: bool, rest: bool) -> None:
        runtime = self.server.runtime
        parsed = parse_body(self._read_json(), chat)
        entry = runtime.library.find(parsed.model)
        if entry is None:
            raise ApiError(404, f"model {parsed.model!r} not found (see GET /v1/models)", "model_not_found")
        request_values: dict[str, Any] = dict(parsed.overrides)
        if parsed.no_draft:
            request_values["draft_model"] = ""
        elif parsed.draft_model is not None:
            request_values["draft_model"] = parsed.draft_model
        values = runtime.defaults.effective(entry.key, request_values)
        watch = SocketWatch(self.connection)
        try:
            request = parsed.generation_request(values, entry.engine)
            request.validate()
            lease = runtime.lease(entry.key, values["draft_model"], gone=watch.is_set, cancel=watch)
            with lease:
                try:
                    stream = lease.generate(request, cancel=watch)
                except ContextOverflowError as exc:
                    raise ApiError(400, str(exc), "context_length_exceeded") from None
                except SpeculaError as exc:
                    raise ApiError(400, str(exc), "invalid_request") from None
                if parsed.stream:
                    self._stream(parsed, entry.key, stream, rest, watch)
                else:
                    self._collect(parsed, entry.key, stream, rest)
        except UnknownModelError:
            missing = values["draft_model"]
            raise ApiError(404, f"draft model {missing!r} not found", "model_not_found") from None
        except DraftIncompatibleError as exc:
            raise ApiError(400, str(exc), "incompatible_draft") from None
        except InvalidRequestError as exc:
            raise ApiError(400, str(exc), "invalid_value") from None
        except ModelBusyError as exc:
            raise ApiError(503, str(exc), "server_busy", "server_error") from None
        except ClientGoneError:
            self.close_connection = True
        except SpeculaError as exc:
            raise ApiError(400, str(exc), "model_load_failed") from None

    def _collect(self, p: ParsedRequest, model: str, stream: Any, rest: bool) -> None:
        result: GenerationResult | None = None
        for item in stream:
            if isinstance(item, GenerationResult):
                result = item
        assert result is not None
        if self.server.on_generation:
            self.server.on_generation(model, result.stats)
        if result.error:
            raise ApiError(500, f"generation failed: {result.error}", "generation_failed", "server_error")
        self._json(200, completion_body(p, model, result.text, result.stats, rest))

    def _stream(self, p: ParsedRequest, model: str, stream: Any, rest: bool, watch: SocketWatch) -> None:
        self.close_connection = True
        self._headers(200, "text/event-stream", None)
        ident = ("chatcmpl-" if p.chat else "cmpl-") + uuid.uuid4().hex[:24]

        def send(body: Any) -> None:
            self.wfile.write(f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()

        try:
            if p.chat:
                first = chunk_body(p, ident, model, "", False)
                first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
                send(first)
            for item in stream:
                if isinstance(item, TokenEvent):  # one chunk per token, so origins count exactly
                    send(chunk_body(p, ident, model, item.text, item.origin is TokenOrigin.DRAFT))
                elif isinstance(item, GenerationResult):
                    if self.server.on_generation:
                        self.server.on_generation(model, item.stats)
                    last = chunk_body(p, ident, model, "", False, finish_reason(item.stats))
                    if rest:
                        last["stats"] = stats_body(item.stats)
                    if item.error:
                        last["error"] = {
                            "message": item.error,
                            "type": "server_error",
                            "code": "generation_failed",
                        }
                    send(last)
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            watch.set()
        finally:
            stream.close()  # stops the generation now if the client left mid-stream


def serve(host: str, port: int, api_key: str | None = None, cors: bool = False) -> int:
    server = SpeculaServer(host, port, api_key=api_key, cors=cors, on_log=print)
    print(f"Specula server on {server.url} (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.runtime.close()
    return 0

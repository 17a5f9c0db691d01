"""The HTTP API as an ASGI app (Starlette): routes, streaming, errors as JSON.

    RequestLog  (one record per request)
      Guard     (Host, Origin, API key, JSON content type; CORS)
        Starlette routes: /v1/models, /v1/chat/completions, /v1/completions, the same under
                          /api/v0 with speculative stats, /openapi.json; and each other API
                          from its own package: OpenAI Responses (openai_responses/),
                          Anthropic Messages (anthropic_messages/), LM Studio's REST v1
                          (lmstudio_rest/)

Generation requests run as GenerationJobs (app/server/jobs.py) on their own threads; this
side reads the body, validates it, waits for the job to start (it answers the job's error
if it fails first), then sends the reply or streams it. A client that disconnects at any
point, even while waiting in line or while its prompt is read, cancels its job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import __version__
from app.core.events import GenerationResult, StopReason, TokenEvent, TokenOrigin
from app.library.entry import ModelEntry
from app.runtime import ModelRuntime
from app.server.anthropic_messages import routes as anthropic_messages
from app.server.body import ClientDisconnected, decode_json, read_body
from app.server.config import ServerConfig
from app.server.errors import ApiError
from app.server.generation_route import ServerContext
from app.server.guard import ASGIApp, Guard, Receive, Scope, Send
from app.server.jit import JitModels
from app.server.jobs import GenerationJob, JobSet
from app.server.lmstudio_rest import routes as lmstudio_rest
from app.server.openai_responses import routes as openai_responses
from app.server.openapi import openapi_schema
from app.server.records import LOG_KEY, RequestInfo, RequestLog, RequestRecord
from app.server.request_parsing import ParsedRequest, parse_request
from app.server.responses import ChunkMaker, completion_body, openai_model, rest_model

log = logging.getLogger(__name__)

CLIENT_GONE = 499  # logged for a client that left before its reply (nginx's convention)


def stopping_error() -> ApiError:
    return ApiError(503, "the server is stopping", "server_stopping")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(data, status, headers=headers, media_type="application/json")


def error_response(err: ApiError, path: str = "") -> Response:
    """The error in the shape of the API `path` belongs to."""
    headers = err.response_headers()
    if err.close:
        headers["Connection"] = "close"
    return json_response(err.body(path), err.status, headers)


async def watch_disconnect(receive: Receive, flag: threading.Event) -> None:
    """Set `flag` when the client hangs up (once the body is read, `receive` waits for it)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            flag.set()
            return


def _info(scope: Scope) -> RequestInfo:
    info = scope.get(LOG_KEY)
    return info if isinstance(info, RequestInfo) else RequestInfo()


class EventStream(Response):
    """A streamed reply: server-sent events, one chunk per token, the finishing chunk (with
    stats on the REST API), the usage chunk when asked, then `data: [DONE]`. Sent with chunked
    encoding, so the connection stays open for the next request."""

    def __init__(
        self,
        job: GenerationJob,
        parsed: ParsedRequest,
        rest: bool,
        stopping: threading.Event,
        done: Callable[[], None],
    ) -> None:
        self.status_code = 200
        self.background = None
        self.job, self.parsed, self.rest, self.stopping, self.done = job, parsed, rest, stopping, done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        job, maker = self.job, ChunkMaker(self.parsed, self.job.model)
        watcher = asyncio.create_task(watch_disconnect(receive, job.cancel))

        async def event(data: Any) -> None:
            text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, allow_nan=False)
            await send(
                {"type": "http.response.body", "body": f"data: {text}\n\n".encode(), "more_body": True}
            )

        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            opening = maker.opening()
            if opening is not None:
                await event(opening)
            info = _info(scope)
            async for item in job.events():
                if isinstance(item, GenerationResult):
                    info.stats = item.stats
                if job.cancel.is_set():
                    continue  # the client left or the server stops: the job ends within a round
                if isinstance(item, TokenEvent):
                    await event(maker.token(item.text, item.origin is TokenOrigin.DRAFT))
                elif isinstance(item, GenerationResult):
                    await event(maker.finish(item, self.rest))
                    if self.parsed.include_usage:
                        await event(maker.usage(item.stats))
                else:  # the worker failed after the reply began
                    info.error = item.message
                    await event(item.body())
            if job.cancel.is_set():
                info.error = "the server is stopping" if self.stopping.is_set() else "the client disconnected"
                if self.stopping.is_set():
                    await event(stopping_error().body())
            await event("[DONE]")
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # the headers are out: all that is left is to end the reply
            log.exception("stream failed")
        finally:
            watcher.cancel()
            job.cancel.set()  # a no-op when it has finished; stops it when it has not
            self.done()


class Api:
    def __init__(
        self,
        runtime: ModelRuntime,
        config: ServerConfig,
        jobs: JobSet,
        jit: JitModels,
        stopping: threading.Event,
    ) -> None:
        self.runtime, self.config, self.jobs, self.jit = runtime, config, jobs, jit
        self.stopping = stopping  # set when the server stops: replies cut short say so

    # --- models --------------------------------------------------------------------------------
    def _listing(self) -> tuple[list[ModelEntry], set[str]]:
        self.runtime.library.rescan()
        entries = sorted(self.runtime.library.entries.values(), key=lambda e: e.key)
        return entries, self.runtime.loaded_keys()

    @staticmethod
    def _created(entry: ModelEntry) -> int:
        try:
            return int(os.stat(entry.path).st_mtime)
        except OSError:
            return 0

    async def models(self, request: Request, rest: bool) -> Response:
        entries, loaded = await asyncio.to_thread(self._listing)
        data = [
            rest_model(e, e.key in loaded) if rest else openai_model(e, self._created(e)) for e in entries
        ]
        return json_response({"object": "list", "data": data})

    async def one_model(self, request: Request, rest: bool) -> Response:
        name = request.path_params["model"]
        entries, loaded = await asyncio.to_thread(self._listing)
        entry = next((e for e in entries if e.key == name), None)
        if entry is None:
            raise ApiError(
                404, f"model {name!r} not found (see GET /v1/models)", "model_not_found", param="model"
            )
        return json_response(
            rest_model(entry, entry.key in loaded) if rest else openai_model(entry, self._created(entry))
        )

    # --- generation ----------------------------------------------------------------------------
    async def complete(self, request: Request, chat: bool, rest: bool) -> Response:
        info = _info(request.scope)
        raw = await read_body(
            request.receive,
            request.headers.get("content-length"),
            self.config.max_body_bytes,
            self.config.body_timeout,
        )
        parsed = parse_request(await asyncio.to_thread(decode_json, raw), chat)
        info.model = parsed.model
        job = GenerationJob(self.runtime, self.jit, parsed, asyncio.get_running_loop())
        self.jobs.add(job)
        job.start()
        watcher = asyncio.create_task(watch_disconnect(request.receive, job.cancel))
        streaming = False
        try:
            started = await job.started()
            info.model = started.model
            if parsed.stream:
                streaming = True
                watcher.cancel()
                return EventStream(job, parsed, rest, self.stopping, lambda: self.jobs.discard(job))
            result = await job.result()
        finally:
            if not streaming:
                watcher.cancel()
                job.cancel.set()  # a no-op when it has finished
                self.jobs.discard(job)
        info.stats = result.stats
        if job.cancel.is_set() and result.stats.stop_reason is StopReason.CANCELLED:
            if self.stopping.is_set():
                raise stopping_error()
            raise ClientDisconnected
        if result.error:
            raise ApiError(500, f"generation failed: {result.error}", "generation_failed")
        return json_response(completion_body(parsed, started.model, result, rest))

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi_schema())

    async def root(self, request: Request) -> Response:
        return json_response(
            {
                "object": "server",
                "name": "Specula local server",
                "version": __version__,
                "openapi": "/openapi.json",
            }
        )


# --- errors as JSON ------------------------------------------------------------------------------
async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    _info(request.scope).error = exc.message
    return error_response(exc, request.url.path)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    if len(path) > 120:
        path = path[:100] + "..."
    if exc.status_code == 404:
        err = ApiError(404, f"no such endpoint: {path} (see /openapi.json)", "not_found")
    elif exc.status_code == 405:
        allow = (exc.headers or {}).get("Allow", "")
        err = ApiError(
            405,
            f"{method} is not allowed on {path} (allowed: {allow})",
            "method_not_allowed",
            headers={"Allow": allow},
        )
    else:
        err = ApiError(exc.status_code, str(exc.detail), "http_error")
    _info(request.scope).error = err.message
    return error_response(err, request.url.path)


async def _on_client_gone(request: Request, exc: Exception) -> Response:
    _info(request.scope).error = "the client disconnected"
    return Response(b"", CLIENT_GONE)


async def _on_crash(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    err = ApiError(500, f"internal error: {type(exc).__name__}: {exc}", "internal_error")
    _info(request.scope).error = err.message
    return error_response(err, request.url.path)


class _SwallowReraise:
    """Starlette re-raises a crash after its handler answered; it was logged: stop it here
    rather than have the HTTP layer log it again and drop the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(Exception):
            await self.app(scope, receive, send)


class _NormalizePath:
    """ "/v1/models/" is "/v1/models" (no redirect for a client to follow)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "/")
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


def build_app(
    runtime: ModelRuntime,
    config: ServerConfig,
    jobs: JobSet,
    jit: JitModels,
    report: Callable[[RequestRecord], None],
    stopping: threading.Event | None = None,
) -> ASGIApp:
    ctx = ServerContext(runtime, config, jobs, jit, stopping or threading.Event())
    api = Api(runtime, config, jobs, jit, ctx.stopping)

    def post(chat: bool, rest: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await api.complete(request, chat, rest)

        return endpoint

    def models(rest: bool, one: bool) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await (api.one_model(request, rest) if one else api.models(request, rest))

        return endpoint

    routes = [
        Route("/", api.root, methods=["GET"]),
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/v1/models", models(False, False), methods=["GET"]),
        Route("/v1/models/{model:path}", models(False, True), methods=["GET"]),
        Route("/api/v0/models", models(True, False), methods=["GET"]),
        Route("/api/v0/models/{model:path}", models(True, True), methods=["GET"]),
        Route("/v1/chat/completions", post(True, False), methods=["POST"]),
        Route("/v1/completions", post(False, False), methods=["POST"]),
        Route("/api/v0/chat/completions", post(True, True), methods=["POST"]),
        Route("/api/v0/completions", post(False, True), methods=["POST"]),
        *openai_responses.routes(ctx),
        *anthropic_messages.routes(ctx),
        *lmstudio_rest.routes(ctx),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _on_api_error,
            HTTPException: _on_http_error,
            ClientDisconnected: _on_client_gone,
            Exception: _on_crash,
        },
    )
    app.router.redirect_slashes = False
    inner: ASGIApp = _NormalizePath(_SwallowReraise(app))
    return RequestLog(Guard(inner, config.policy), report)

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
import logging
import os
import threading
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import __version__
from app.core.events import GenerationResult
from app.library.compat_index import DraftReport
from app.library.entry import ModelEntry
from app.library.resolve import UnknownModelError
from app.runtime import ModelRuntime
from app.server.anthropic_messages import routes as anthropic_messages
from app.server.body import ClientDisconnected
from app.server.config import ServerConfig
from app.server.errors import ApiError, model_not_found
from app.server.generation_route import (
    ServerContext,
    generation_reply,
    json_response,
    read_json,
    request_info,
)
from app.server.guard import ASGIApp, Guard, Receive, Scope, Send, allow_header
from app.server.jit import JitModels
from app.server.jobs import JobSet, Started
from app.server.lmstudio_rest import routes as lmstudio_rest
from app.server.lmstudio_sdk import mount_sdk
from app.server.openai_responses import routes as openai_responses
from app.server.openapi import openapi_schema
from app.server.records import RequestLog, RequestRecord
from app.server.request_parsing import parse_request
from app.server.responses import CompletionEvents, completion_body, draft_list, openai_model, rest_model

log = logging.getLogger(__name__)

CLIENT_GONE = 499  # logged for a client that left before its reply (nginx's convention)


def error_response(err: ApiError, path: str = "") -> Response:
    """The error in the shape of the API `path` belongs to."""
    headers = err.response_headers()
    if err.close:
        headers["Connection"] = "close"
    return json_response(err.body(path), err.status, headers)


class Api:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.runtime = ctx.runtime

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

    async def models(self, _request: Request, rest: bool) -> Response:
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
            raise model_not_found(UnknownModelError(name))
        return json_response(
            rest_model(entry, entry.key in loaded) if rest else openai_model(entry, self._created(entry))
        )

    async def drafts(self, request: Request) -> Response:
        """The drafts the library has for a model: another Specula lists them for it."""
        name = request.path_params["model"]

        def report() -> DraftReport | None:
            library = self.runtime.library
            return self.runtime.index.drafts_for(name) if name in library.entries else None

        found = await asyncio.to_thread(report)
        if found is None:
            raise model_not_found(UnknownModelError(name))
        return json_response(draft_list(found))

    # --- generation ----------------------------------------------------------------------------
    async def complete(self, request: Request, chat: bool, rest: bool) -> Response:
        parsed = parse_request(await read_json(self.ctx, request), chat)

        def reply(started: Started, result: GenerationResult) -> Response:
            return json_response(completion_body(parsed, started.model, result, rest))

        return await generation_reply(
            self.ctx, request, parsed, reply, lambda started: CompletionEvents(parsed, started.model, rest)
        )

    async def openapi(self, _request: Request) -> Response:
        return json_response(openapi_schema())

    async def root(self, _request: Request) -> Response:
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
    request_info(request.scope).error = exc.message
    return error_response(exc, request.url.path)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    if len(path) > 120:
        path = path[:100] + "..."
    if exc.status_code == 404:
        err = ApiError(404, f"no such endpoint: {path} (see /openapi.json)", "not_found")
    elif exc.status_code == 405:
        taken = (exc.headers or {}).get("Allow", "")
        allow = allow_header(frozenset(m.strip() for m in taken.split(",") if m.strip()))
        err = ApiError(
            405,
            f"{method} is not allowed on {path} (allowed: {allow})",
            "method_not_allowed",
            headers={"Allow": allow},
        )
    else:
        err = ApiError(exc.status_code, str(exc.detail), "http_error")
    request_info(request.scope).error = err.message
    return error_response(err, request.url.path)


async def _on_client_gone(request: Request, _exc: Exception) -> Response:
    request_info(request.scope).error = "the client disconnected"
    return Response(b"", CLIENT_GONE)


async def _on_crash(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    err = ApiError(500, f"internal error: {type(exc).__name__}: {exc}", "internal_error")
    request_info(request.scope).error = err.message
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
    api = Api(ctx)

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
        Route("/api/v0/drafts/{model:path}", api.drafts, methods=["GET"]),
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
    http = RequestLog(Guard(inner, config.policy, route_methods(routes)), report)
    return mount_sdk(http, runtime, config, jobs, jit, report, ctx.stopping)  # LM Studio's SDK


def route_methods(routes: list[Route]) -> Callable[[str], frozenset[str] | None]:
    """The methods the route for a path takes (None: no route), as the router will match it
    (after _NormalizePath): what the guard needs to leave a wrong method to the router's 405
    and to answer a preflight with the route's own methods."""

    def methods_of(path: str) -> frozenset[str] | None:
        path = path.rstrip("/") or "/"
        for route in routes:
            if route.path_regex.match(path):
                return frozenset(route.methods or ())
        return None

    return methods_of

"""What every generation endpoint does, whatever API it speaks.

Read the JSON body (bounded in size and time), start a GenerationJob, wait until it holds its
models (its error first, as an HTTP status in the API's own shape), then answer: the whole
reply as JSON, or a stream of server-sent events in the API's own grammar (`EventGrammar`:
what to send before the first token, per token, at the end, and when the reply fails or
the server stops midway). A client that hangs up at any point cancels its job, whether it
waits in line, its prompt is being read, or it is generating.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from app.core.events import GenerationResult, StopReason, TokenEvent
from app.runtime import ModelRuntime
from app.server.body import ClientDisconnected, decode_json, read_body
from app.server.config import ServerConfig
from app.server.errors import ApiError
from app.server.guard import Receive, Scope, Send
from app.server.jit import JitModels
from app.server.jobs import GenerationJob, JobSet, Started, api_error_of
from app.server.records import LOG_KEY, RequestInfo
from app.server.request_parsing import ParsedRequest

log = logging.getLogger(__name__)

SseEvent = tuple[str | None, Any]  # (event name or None, data: a JSON value or raw text)


@dataclass(frozen=True)
class ServerContext:
    """What the routes of every API share: one runtime, one queue, one set of jobs."""

    runtime: ModelRuntime
    config: ServerConfig
    jobs: JobSet
    jit: JitModels
    stopping: threading.Event  # set when the server stops: replies cut short say so


def stopping_error() -> ApiError:
    return ApiError(503, "the server is stopping", "server_stopping")


def request_info(scope: Scope) -> RequestInfo:
    """What the request log will say about this request (routes fill it in)."""
    info = scope.get(LOG_KEY)
    return info if isinstance(info, RequestInfo) else RequestInfo()


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    return Response(data, status, headers=headers, media_type="application/json")


async def read_json(ctx: ServerContext, request: Request) -> dict[str, Any]:
    raw = await read_body(
        request.receive,
        request.headers.get("content-length"),
        ctx.config.max_body_bytes,
        ctx.config.body_timeout,
    )
    body: dict[str, Any] = await asyncio.to_thread(decode_json, raw)
    return body


async def watch_disconnect(receive: Receive, flag: threading.Event) -> None:
    """Set `flag` when the client hangs up (once the body is read, `receive` waits for it)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            flag.set()
            return


class EventGrammar(Protocol):
    """One streamed reply in an API's own events."""

    def opening(self) -> list[SseEvent]: ...
    def token(self, event: TokenEvent) -> list[SseEvent]: ...
    def finish(self, result: GenerationResult) -> list[SseEvent]: ...
    def failed(self, error: ApiError) -> list[SseEvent]: ...
    def closing(self) -> list[SseEvent]: ...


def sse_bytes(event: SseEvent) -> bytes:
    name, data = event
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, allow_nan=False)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {text}\n\n".encode()


class GenerationStream(Response):
    """A streamed reply, sent with chunked encoding so the connection stays open after it."""

    def __init__(self, ctx: ServerContext, job: GenerationJob, grammar: EventGrammar) -> None:
        self.status_code = 200
        self.background = None
        self.ctx, self.job, self.grammar = ctx, job, grammar

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        job, grammar, stopping = self.job, self.grammar, self.ctx.stopping
        watcher = asyncio.create_task(watch_disconnect(receive, job.cancel))

        async def emit(events: list[SseEvent]) -> None:
            for event in events:
                await send({"type": "http.response.body", "body": sse_bytes(event), "more_body": True})

        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await emit(grammar.opening())
            info = request_info(scope)
            async for item in job.events():
                if isinstance(item, GenerationResult):
                    info.stats = item.stats
                if job.cancel.is_set():
                    continue  # the client left or the server stops: the job ends within a round
                if isinstance(item, TokenEvent):
                    await emit(grammar.token(item))
                elif isinstance(item, GenerationResult):
                    if item.error:
                        info.error = item.error
                    await emit(grammar.finish(item))
                else:  # the worker failed after the reply began
                    info.error = item.message
                    await emit(grammar.failed(item))
            if job.cancel.is_set():
                info.error = "the server is stopping" if stopping.is_set() else "the client disconnected"
                if stopping.is_set():
                    await emit(grammar.failed(stopping_error()))
            await emit(grammar.closing())
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:  # the headers are out: all that is left is to end the reply
            log.exception("stream failed")
        finally:
            watcher.cancel()
            job.cancel.set()  # a no-op when it has finished; stops it when it has not
            self.ctx.jobs.discard(job)


async def generation_reply(
    ctx: ServerContext,
    request: Request,
    parsed: ParsedRequest,
    reply: Callable[[Started, GenerationResult], Response],
    grammar: Callable[[Started], EventGrammar],
) -> Response:
    """Run `parsed` as a job: `reply(started, result)` answers a plain request, `grammar(started)`
    streams one (parsed.stream). The job's errors are raised as ApiError."""
    info = request_info(request.scope)
    info.model = parsed.model
    job = GenerationJob(ctx.runtime, ctx.jit, parsed, asyncio.get_running_loop())
    ctx.jobs.add(job)
    job.start()
    watcher = asyncio.create_task(watch_disconnect(request.receive, job.cancel))
    streaming = False
    try:
        started = await job.started()
        info.model = started.model
        if parsed.stream:
            streaming = True
            watcher.cancel()
            return GenerationStream(ctx, job, grammar(started))
        result = await job.result()
    finally:
        if not streaming:
            watcher.cancel()
            job.cancel.set()  # a no-op when it has finished
            ctx.jobs.discard(job)
    info.stats = result.stats
    if job.cancel.is_set() and result.stats.stop_reason is StopReason.CANCELLED:
        if ctx.stopping.is_set():
            raise stopping_error()
        raise ClientDisconnected
    if result.error:
        raise ApiError(500, f"generation failed: {result.error}", "generation_failed")
    return reply(started, result)


async def on_lease(request: Request, work: Callable[[threading.Event], Any]) -> Any:
    """Run `work(cancel)` (blocking work on a lease: counting a prompt) on a thread; the client
    hanging up sets `cancel` (a lease waiting in line leaves it). Failures become ApiErrors."""
    cancel = threading.Event()
    watcher = asyncio.create_task(watch_disconnect(request.receive, cancel))
    try:
        return await asyncio.to_thread(work, cancel)
    except Exception as exc:
        err = api_error_of(exc)
        raise (err if err is not None else ClientDisconnected()) from None
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

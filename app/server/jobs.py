"""One request's generation on a worker thread, bridged to the server's event loop.

Everything that blocks (finding the model, waiting in the model's line, loading it, reading
the prompt, decoding) runs on the job's own thread, which hands its events to the loop. The
request's `cancel` flag stops it at any stage: while waiting in line (the lease's `gone`),
while the prompt is being read (checked between chunks), and between decoding rounds. The
loop sets it when the client disconnects, and the server sets it for every job when it stops.

A job first reports `Started` (the models are held and the request was accepted) or an
ApiError (the status the client gets), then token events and one GenerationResult.
`api_error_of` says which status each failure is, for the other work done on a lease
(counting a prompt's tokens) too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from app.core.errors import (
    ContextOverflowError,
    DraftIncompatibleError,
    EngineUnavailableError,
    InvalidRequestError,
    ModelFileError,
    ModelLoadError,
    SpeculaError,
)
from app.core.events import GenerationResult, TokenEvent
from app.library.resolve import DRAFT, ModelRef, resolve_model
from app.runtime import ClientGoneError, ModelBusyError, ModelRuntime, RuntimeClosedError, UnknownModelError
from app.server.body import ClientDisconnected
from app.server.errors import ApiError, model_not_found
from app.server.jit import JitModels
from app.server.prompt_tokens import fitted_prompt_token_count
from app.server.request_parsing import ParsedRequest

log = logging.getLogger(__name__)

_END = object()  # the worker is done


@dataclass(frozen=True)
class Started:
    model: str  # the main model's library key
    prompt_tokens: int | None = None  # the prompt's size, when the request asked for it first


def api_error_of(exc: Exception) -> ApiError | None:
    """The status a failure on a lease gives the client; None when nobody is left to answer
    (the client left the line)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ClientGoneError):
        return None
    if isinstance(exc, RuntimeClosedError):
        return ApiError(503, "the server is stopping", "server_stopping")
    if isinstance(exc, ModelBusyError):
        return ApiError(503, str(exc), "server_busy", headers={"Retry-After": "1"})
    if isinstance(exc, UnknownModelError):
        return model_not_found(exc)
    if isinstance(exc, DraftIncompatibleError):
        return ApiError(400, str(exc), "incompatible_draft", param="draft_model")
    if isinstance(exc, ContextOverflowError):
        return ApiError(400, str(exc), "context_length_exceeded")
    if isinstance(exc, InvalidRequestError):
        return ApiError(400, str(exc), "invalid_value")
    if isinstance(exc, (ModelFileError, ModelLoadError, EngineUnavailableError)):
        return ApiError(500, str(exc), "model_load_failed")
    if isinstance(exc, SpeculaError):  # a chat template that fails, ...: in its own words
        return ApiError(400, str(exc), "invalid_request")
    log.error("request failed", exc_info=exc)  # a bug: the server keeps serving
    return ApiError(500, f"internal error: {type(exc).__name__}: {exc}", "internal_error")


def find_model(runtime: ModelRuntime, name: str) -> ModelRef:
    """The library's model by key or name (a request never names files), or a 404 naming it."""
    try:
        return resolve_model(name, runtime.library, files=False)
    except UnknownModelError as exc:
        raise model_not_found(exc) from None


class GenerationJob:
    def __init__(
        self, runtime: ModelRuntime, jit: JitModels, parsed: ParsedRequest, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.runtime, self.jit, self.parsed = runtime, jit, parsed
        self.cancel = threading.Event()
        self.model: str = parsed.model  # the library key once found
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._thread = threading.Thread(target=self._run, name="specula-request", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # --- the loop's side ----------------------------------------------------------------------
    async def started(self) -> Started:
        """Wait for the models (in line, loading); ApiError when the request fails first,
        ClientDisconnected when the client left meanwhile."""
        item = await self._queue.get()
        if isinstance(item, Started):
            return item
        if isinstance(item, ApiError):
            raise item
        raise ClientDisconnected

    async def events(self) -> AsyncIterator[TokenEvent | GenerationResult | ApiError]:
        """After `started`: the tokens, then the result (an ApiError if the worker failed)."""
        while True:
            item = await self._queue.get()
            if item is _END:
                return
            if isinstance(item, (TokenEvent, GenerationResult, ApiError)):
                yield item

    async def result(self) -> GenerationResult:
        async for item in self.events():
            if isinstance(item, GenerationResult):
                return item
            if isinstance(item, ApiError):
                raise item
        raise ClientDisconnected  # cancelled before a result (the client left)

    # --- the worker's side --------------------------------------------------------------------
    def _emit(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the server stopped
            self.cancel.set()

    def _run(self) -> None:
        try:
            self._generate()
        except Exception as exc:
            err = api_error_of(exc)
            if err is not None:  # None: it left the line, nobody to answer
                self._emit(err)
        finally:
            self._emit(_END)

    def _generate(self) -> None:
        p, runtime = self.parsed, self.runtime
        entry = find_model(runtime, p.model)
        self.model = entry.key
        draft_key = None
        if p.names_a_draft_model:
            draft_key = resolve_model(p.draft_model or "", runtime.library, role=DRAFT, files=False).key
        values = runtime.defaults.effective(entry.key, p.settings(draft_key))
        request = p.generation_request(values, entry.engine)
        request.validate()
        lease = runtime.lease(entry.key, values["draft_model"], gone=self.cancel.is_set, cancel=self.cancel)
        loading = self.jit.before_lease(lease.keys)
        with lease:
            self.jit.after_lease(loading, lease.keys, p.ttl)
            counted = fitted_prompt_token_count(lease.main, request) if p.count_prompt else None
            stream = lease.generate(request, cancel=self.cancel, prediction=p.prediction)
            self._emit(Started(entry.key, counted))
            for item in stream:
                if isinstance(item, (TokenEvent, GenerationResult)):
                    self._emit(item)


class JobSet:
    """The jobs in progress, so stopping the server can stop them all."""

    def __init__(self) -> None:
        self._jobs: set[GenerationJob] = set()
        self._lock = threading.Lock()

    def add(self, job: GenerationJob) -> None:
        with self._lock:
            self._jobs.add(job)

    def discard(self, job: GenerationJob) -> None:
        with self._lock:
            self._jobs.discard(job)

    def cancel_all(self) -> list[GenerationJob]:
        with self._lock:
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel.set()
        return jobs

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

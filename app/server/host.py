"""Loaded models shared by every request, loaded on demand, used by one generation at a time.

Each model has a fair (first come, first served) lock; a request that uses a draft takes both
models' locks in a fixed order, so two requests can never wait on each other. A waiting
request gives up its place as soon as its client is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from app.core.errors import SpeculaError
from app.engines.llamacpp import LoadOptions
from app.engines.loader import LoadedModel, load_any
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore

MAX_WAITING = 8  # per model; more is refused with "busy" rather than queued without end


class Cancellable(Protocol):
    def set(self) -> None: ...


class ServerBusyError(SpeculaError):
    """Too many requests are already waiting for this model."""


class ClientGoneError(SpeculaError):
    """The client disconnected while its request waited."""


class FairLock:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._abandoned: set[int] = set()  # tickets of waiters that left the line

    @property
    def waiting(self) -> int:
        return self._next_ticket - self._serving

    def acquire(self, gone: Callable[[], bool]) -> None:
        with self._cond:
            if self.waiting > MAX_WAITING:
                raise ServerBusyError("the server is busy with other requests for this model; retry shortly")
            ticket = self._next_ticket
            self._next_ticket += 1
            try:
                while ticket != self._serving:
                    self._cond.wait(0.05)
                    if gone():
                        raise ClientGoneError("client disconnected while waiting")
            except BaseException:
                self._skip(ticket)
                raise

    def _skip(self, ticket: int) -> None:
        self._abandoned.add(ticket)
        self._advance()

    def _advance(self) -> None:
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._serving += 1
            self._advance()


class ModelHost:
    def __init__(
        self, library: ModelLibrary | None = None, defaults: ModelDefaultsStore | None = None
    ) -> None:
        self.library = library or ModelLibrary()
        self.defaults = defaults or ModelDefaultsStore()
        self._models: dict[str, LoadedModel] = {}
        self._locks: dict[str, FairLock] = {}
        self._load_lock = threading.Lock()
        self._active: set[Cancellable] = set()

    def loaded_keys(self) -> set[str]:
        return set(self._models)

    def model(self, key: str, path: Path | None = None, options: LoadOptions | None = None) -> LoadedModel:
        """The loaded model for a key, loading it on first use (the chat and the server share
        one instance; load options apply only to whoever loads it first)."""
        with self._load_lock:
            if key not in self._models:
                if path is None:
                    entry = self.library.entries[key]
                    if entry.engine != "llama.cpp":
                        raise SpeculaError(
                            f"{key} is an {entry.engine} model; only llama.cpp models run here"
                        )
                    path = Path(entry.path)
                if options is None:
                    values = self.defaults.effective(key)
                    options = LoadOptions(
                        n_ctx=int(values["context_length"]), n_gpu_layers=int(values["gpu_offload"])
                    )
                self._models[key] = load_any(path, options)
                self._locks[key] = FairLock()
            return self._models[key]

    def evict(self, key: str) -> None:
        """Free a model once nobody is generating with it."""
        with self._load_lock:
            model = self._models.pop(key, None)
            self._locks.pop(key, None)
        if model is not None:
            with model.lock:
                model.close()

    @contextmanager
    def using(
        self, keys: list[str], gone: Callable[[], bool], cancel: Cancellable | None = None
    ) -> Iterator[None]:
        """Hold the given models (main and draft) for one generation; `cancel` is set if the
        host shuts down meanwhile."""
        ordered = sorted(set(keys))
        held: list[FairLock] = []
        if cancel is not None:
            self._active.add(cancel)
        try:
            for key in ordered:
                lock = self._locks[key]
                lock.acquire(gone)
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()
            if cancel is not None:
                self._active.discard(cancel)

    def cancel_all(self) -> None:
        """Ask every generation in flight to stop (each notices within one round)."""
        for cancel in list(self._active):
            cancel.set()

    def close(self) -> None:
        """Stop generations in flight, then free every model."""
        self.cancel_all()
        with self._load_lock:
            for m in self._models.values():
                with m.lock:  # waits for a generation to notice the cancel
                    m.close()
            self._models.clear()

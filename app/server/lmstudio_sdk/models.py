"""The models as the SDK sees them: specifiers resolved to library entries, what is loaded and
downloaded, loading (getOrLoad), unloading and tokenizing. Everything here blocks (it may
scan the library, wait in a model's line or load a model): the session calls it in a thread.

One instance per model: a loaded model's identifier and instance reference are its library
key, so a handle keeps working after an idle model was unloaded (it is loaded again on use).
Loading goes through the runtime's lease and the server's on-demand bookkeeping (JitModels):
a model the SDK loaded is unloaded after its TTL like any model a request loaded.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

from app.core.errors import ModelFileError, ModelLoadError, SpeculaError
from app.library.entry import ModelEntry
from app.runtime import (
    ClientGoneError,
    LoadSettings,
    ModelBusyError,
    ModelRuntime,
    RuntimeClosedError,
)
from app.server.jit import JitModels
from app.server.lmstudio_sdk.wire import SdkError, instance_info, model_info, no_model

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """The caller cancelled (or left) while waiting for a model."""


def sdk_error(exc: Exception) -> Exception:
    """A runtime failure as the SDK error the HTTP API's status would be."""
    if isinstance(exc, (SdkError, Cancelled)):
        return exc
    if isinstance(exc, ClientGoneError):
        return Cancelled(str(exc))
    if isinstance(exc, RuntimeClosedError):
        return SdkError("the server is stopping", 503)
    if isinstance(exc, ModelBusyError):
        return SdkError(str(exc), 503)
    if isinstance(exc, (ModelFileError, ModelLoadError)):
        return SdkError(f"the model failed to load: {exc}", 500)
    if isinstance(exc, SpeculaError):
        return SdkError(str(exc), 400)
    log.exception("SDK call failed", exc_info=exc)
    return SdkError(f"internal error: {type(exc).__name__}: {exc}", 500)


class SdkModels:
    def __init__(self, runtime: ModelRuntime, jit: JitModels) -> None:
        self.runtime, self.jit = runtime, jit

    # --- naming -------------------------------------------------------------------------------
    def loaded(self) -> dict[str, int]:
        """Loaded model key -> its context length."""
        return {info.key: info.n_ctx for info in self.runtime.loaded()}

    def find(self, name: str, query: dict[str, Any]) -> ModelEntry:
        entry = self.runtime.library.find(name) if name else None
        if entry is None:
            raise no_model(query, sorted(self.loaded()), repr(name))
        return entry

    def resolve(self, specifier: Any, domain: str = "llm") -> ModelEntry:
        """A model specifier (`{type: "query", query}` or `{type: "instanceReference"}`) as
        a library entry. A query naming no model means any loaded one (as `llm.model()`)."""
        if not isinstance(specifier, dict):
            raise SdkError("the model specifier must be an object")
        if specifier.get("type") == "instanceReference":
            ref = specifier.get("instanceReference")
            return self.find(ref if isinstance(ref, str) else "", {"identifier": ref})
        query = specifier.get("query")
        if specifier.get("type") != "query" or not isinstance(query, dict):
            raise SdkError("the model specifier must be a query or an instance reference")
        if query.get("domain", domain) != domain or domain != "llm" or query.get("vision"):
            raise no_model(query, sorted(self.loaded()), "this query (the models here are text LLMs)")
        for field in ("identifier", "path"):
            name = query.get(field)
            if name is not None:
                return self.find(name if isinstance(name, str) else "", query)
        loaded = sorted(self.loaded())
        if not loaded:
            raise no_model(query, [], "an empty query: no model is loaded")
        return self.find(loaded[0], query)

    # --- what there is ------------------------------------------------------------------------
    def context_length(self, entry: ModelEntry) -> int:
        """Its loaded context, or the one it would be loaded with."""
        return self.loaded().get(entry.key) or self.runtime.settings_for(entry.key).n_ctx

    def instance(self, entry: ModelEntry) -> dict[str, Any]:
        return instance_info(entry, self.context_length(entry))

    def list_loaded(self) -> list[dict[str, Any]]:
        entries = self.runtime.library.entries
        return [
            instance_info(entries[key], n_ctx)
            for key, n_ctx in sorted(self.loaded().items())
            if key in entries
        ]

    def list_downloaded(self) -> list[dict[str, Any]]:
        library = self.runtime.library
        library.rescan()
        return [model_info(e) for e in sorted(library.entries.values(), key=lambda e: e.key)]

    # --- doing --------------------------------------------------------------------------------
    def load(
        self,
        entry: ModelEntry,
        ttl_ms: int | None,
        context_length: int | None,
        progress: Callable[[float], None],
        cancel: threading.Event,
    ) -> None:
        """Load the model (waiting for its line like a request) unless it is loaded."""
        settings = None
        if context_length is not None:
            settings = LoadSettings(context_length, self.runtime.settings_for(entry.key).n_gpu_layers)
        ttl = math.ceil(ttl_ms / 1000) if ttl_ms else None
        try:
            lease = self.runtime.lease(
                entry.key,
                None,
                gone=cancel.is_set,
                cancel=cancel,
                progress=lambda _key, fraction: progress(fraction),
                settings=settings,
            )
            loading = self.jit.before_lease(lease.keys)
            with lease:
                self.jit.after_lease(loading, lease.keys, ttl)
        except Exception as exc:
            raise sdk_error(exc) from None

    def unload(self, identifier: str) -> None:
        """Unload a loaded model; the models the app's chat loaded stay (they are the
        user's), and a model a reply is using goes once that reply ends."""
        entry = self.runtime.library.find(identifier)
        infos = {info.key: info for info in self.runtime.loaded()}
        info = infos.get(entry.key) if entry is not None else None
        if info is None:
            raise SdkError(
                f"no loaded model has the identifier {identifier!r}",
                404,
                {
                    "code": "generic.identifierNotFound",
                    "identifier": identifier,
                    "loadedModelsSample": sorted(infos)[:10],
                    "totalLoadedModels": len(infos),
                },
            )
        if info.pinned:
            raise SdkError(f"{info.key} is loaded by the app's chat: unload it there", 409)
        self.runtime.evict(info.key, wait=False)

    def tokenize(self, entry: ModelEntry, text: str, cancel: threading.Event) -> list[int]:
        """The text's own tokens (no BOS), from the model (loaded for it when it is not)."""
        try:
            lease = self.runtime.lease(entry.key, None, gone=cancel.is_set, cancel=cancel)
            loading = self.jit.before_lease(lease.keys)
            with lease:
                self.jit.after_lease(loading, lease.keys, None)
                return [int(t) for t in lease.main.tokenize(text, add_special=False)]
        except Exception as exc:
            raise sdk_error(exc) from None

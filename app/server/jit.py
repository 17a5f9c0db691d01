"""Models the server loads on demand ("just in time"), and when it lets them go.

A request for a model that is not loaded loads it (and its draft). The server remembers the
models it loaded itself, each with an idle time-to-live: the request's `ttl` (seconds, as in
LM Studio) or the server's default. Once one has not been used for that long it is unloaded
(`sweep`, called every fraction of a second by the server). With auto-evict (the default), a
request that has to load a model first frees the other models the server loaded on demand,
so serving many models one after another does not pile them up in memory.

Never unloaded: a model a reply is using (the runtime refuses to, whatever the TTL), and a
model the app loaded or pinned for the chat (the server never tracked it, or forgets it as
soon as the app pins it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from app.runtime import ModelRuntime

log = logging.getLogger(__name__)

DEFAULT_TTL = 3600.0  # seconds


class JitModels:
    def __init__(
        self,
        runtime: ModelRuntime,
        default_ttl: float = DEFAULT_TTL,
        auto_evict: bool = True,
        on_unload: Callable[[str, str], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.default_ttl = default_ttl
        self.auto_evict = auto_evict
        self.on_unload = on_unload  # (model key, why)
        self._ttl: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def tracked(self) -> dict[str, float]:
        """Model key -> idle TTL in seconds, for the models the server loaded itself."""
        with self._lock:
            return dict(self._ttl)

    def before_lease(self, keys: Iterable[str]) -> set[str]:
        """The keys a lease on `keys` will load. With auto-evict, when it will load any, the
        other idle models loaded on demand are freed first (before the new one takes memory)."""
        wanted = set(keys)
        loading = wanted - self.runtime.loaded_keys()
        if loading and self.auto_evict:
            with self._lock:
                others = set(self._ttl) - wanted
            if others:
                self._unloaded(self.runtime.evict_idle(0, keys=others), "another model was requested")
        return loading

    def after_lease(self, loading: Iterable[str], keys: Iterable[str], ttl: float | None) -> None:
        """Remember what the lease loaded; a request's `ttl` also resets the TTL of the models
        it uses that the server loaded before."""
        loaded = self.runtime.loaded_keys()
        with self._lock:
            for key in loading:
                if key in loaded:
                    self._ttl[key] = float(ttl) if ttl else self.default_ttl
            if ttl:
                for key in keys:
                    if key in self._ttl:
                        self._ttl[key] = float(ttl)

    def sweep(self) -> list[str]:
        """Unload the tracked models idle past their TTL; forget those the app has taken
        over (pinned) or that were unloaded elsewhere."""
        infos = {info.key: info for info in self.runtime.loaded()}
        freed: list[str] = []
        for key, ttl in self.tracked.items():
            info = infos.get(key)
            if info is None or info.pinned:
                self.forget([key])
                continue
            done = self.runtime.evict_idle(ttl, keys=[key])
            if done:
                freed += done
                self._unloaded(done, f"idle for {ttl:g} s")
        return freed

    def release_all(self) -> list[str]:
        """Unload every idle model the server loaded (when the server stops)."""
        freed = self.runtime.evict_idle(0, keys=self.tracked)
        self._unloaded(freed, "the server stopped")
        with self._lock:
            self._ttl.clear()
        return freed

    def forget(self, keys: Iterable[str]) -> None:
        """Stop tracking these models: the server will not unload them (a model loaded on
        request, or unloaded on request)."""
        with self._lock:
            for key in keys:
                self._ttl.pop(key, None)

    def _unloaded(self, keys: list[str], why: str) -> None:
        self.forget(keys)
        for key in keys:
            log.info("unloaded %s (%s)", key, why)
            if self.on_unload is not None:
                self.on_unload(key, why)

"""Plain descriptions of models the runtime can load: which one, and how to load it."""

from __future__ import annotations

from dataclasses import dataclass

from app.library.resolve import ModelRef as ModelRef  # what a name resolves to (one owner)


@dataclass(frozen=True)
class LoadSettings:
    """What a model is loaded with (My Models' Context Length and GPU Offload)."""

    n_ctx: int
    n_gpu_layers: int = 0


@dataclass(frozen=True)
class LoadedInfo:
    """One loaded model, as `ModelRuntime.loaded()` reports it."""

    key: str
    name: str
    engine: str
    path: str
    n_ctx: int
    pinned: bool  # kept for the app (the chat's models); idle unloading skips it
    leased: bool  # a reply is using it right now
    waiting: int  # replies waiting for it
    last_used: float  # the runtime's clock (time.monotonic) when a lease last let it go (or it was loaded)

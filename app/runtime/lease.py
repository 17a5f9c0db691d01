"""A lease: one reply's hold on its main model and its draft, from the first token to the last.

Taken with `with runtime.lease(main, draft) as lease:`. Entering waits in line for each
model (fairly, per model), loads what is not loaded, and holds both until the block ends;
nobody else decodes on them, and nobody closes them, meanwhile. Evicting a leased model (or
closing the runtime) waits for the lease, or cancels its reply when asked to.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from app.core.errors import SpeculaError
from app.core.events import StreamItem
from app.core.request import GenerationRequest
from app.runtime.drafts import DraftPlan
from app.runtime.model_ref import LoadSettings, ModelRef

if TYPE_CHECKING:
    from app.runtime.runtime import LoadProgress, ModelRuntime
    from app.runtime.slots import Slot


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class AnyFlag:
    """Set when any of its flags is set: the lease's own stop, the caller's, the reply's."""

    def __init__(self, *flags: CancelFlag | None) -> None:
        self._flags: list[CancelFlag] = []
        for flag in flags:
            if flag is not None and all(flag is not f for f in self._flags):
                self._flags.append(flag)

    def is_set(self) -> bool:
        return any(f.is_set() for f in self._flags)


class Lease:
    """`main` is the loaded main model, `draft` what it drafts with (a loaded draft model, a
    prompt-lookup source, or None), both valid only inside the `with` block."""

    def __init__(
        self,
        runtime: ModelRuntime,
        main: ModelRef,
        plan: DraftPlan,
        *,
        gone: Callable[[], bool] | None = None,
        cancel: CancelFlag | None = None,
        progress: LoadProgress | None = None,
        settings: LoadSettings | None = None,
        max_waiting: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.main_ref = main
        self.plan = plan
        self.gone = gone
        self.cancel_flag = cancel
        self.progress = progress
        self.settings = settings
        self.max_waiting = max_waiting
        self.stop = threading.Event()  # set by evict(cancel=True) and close()
        self.slots: list[Slot] = []
        self.main: Any = None
        self.draft: Any = None
        self._active = False
        self._streams: list[Generator[StreamItem, None, None]] = []

    # --- identity -------------------------------------------------------------------------
    @property
    def main_key(self) -> str:
        return self.main_ref.key

    @property
    def draft_key(self) -> str | None:
        """The draft model's key, the prompt-lookup key, or None."""
        return self.plan.key

    @property
    def keys(self) -> set[str]:
        """The models this lease holds."""
        return {self.main_ref.key} | ({self.plan.model.key} if self.plan.model else set())

    # --- life -----------------------------------------------------------------------------
    def __enter__(self) -> Lease:
        if self._active or self.slots:
            raise SpeculaError("this lease is already held")
        self.runtime._enter(self)
        self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._active = False
        for stream in self._streams:
            # A reply left half-read stops here, before the models go (ValueError: it is
            # running in another thread, which holds the engine's lock until it ends).
            with contextlib.suppress(ValueError):
                stream.close()
        self._streams.clear()
        self.runtime._leave(self)
        self.main = self.draft = None

    def cancel(self) -> None:
        """Stop the reply in progress (it ends within one round, as "cancelled")."""
        self.stop.set()

    def waiting_check(self) -> None:
        """Raise to leave the line: the client went away, the caller cancelled, or the
        runtime is closing."""
        from app.runtime.errors import ClientGoneError

        if self.stop.is_set():
            raise ClientGoneError("stopped while waiting for the model")
        if self.gone is not None and self.gone():
            raise ClientGoneError("client disconnected while waiting")
        if self.cancel_flag is not None and self.cancel_flag.is_set():
            raise ClientGoneError("cancelled while waiting for the model")

    # --- generation -------------------------------------------------------------------------
    def generate(
        self, request: GenerationRequest, cancel: CancelFlag | None = None, *, draft: object | None = None
    ) -> Iterator[StreamItem]:
        """Stream one reply on the leased pair. Errors in the request (bad values, a prompt
        longer than the context, a template that fails) raise here, before the first item.
        `draft`: a draft source for this reply only, in place of the lease's own (e.g. a
        request's predicted output, which may fall back on `lease.draft`)."""
        if not self._active:
            raise SpeculaError("this lease has ended; take a new one")
        flag = AnyFlag(self.stop, self.cancel_flag, cancel)
        stream = self.main.generate(request, draft=self.draft if draft is None else draft, cancel=flag)
        self._streams.append(stream)
        return stream

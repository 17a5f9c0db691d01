"""A lease: one reply's hold on its main model and its draft, from the first token to the last.

Taken with `with runtime.lease(main, draft) as lease:`. Entering waits in line for each
model (fairly, per model), loads what is not loaded, and holds both until the block ends;
nobody else decodes on them, and nobody closes them, meanwhile. Evicting a leased model (or
closing the runtime) waits for the lease, or cancels its reply when asked to.

The lease also holds what the pair drafts with, built once when it is entered (a typed
DraftSource: the draft model's own proposals or translated ones, prompt lookup, both
chained); a request's predicted output is built on it per reply (`generate(prediction=)`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator
from typing import Protocol

from app.core.errors import SpeculaError
from app.core.events import StreamItem
from app.core.request import GenerationRequest
from app.engines.drafting import DraftSource
from app.engines.loader import LoadedModel
from app.engines.prediction_draft import PredictionDraft
from app.runtime.drafts import DraftPlan
from app.runtime.errors import ClientGoneError
from app.runtime.model_ref import LoadSettings, ModelRef
from app.runtime.slots import Slot

LoadProgress = Callable[[str, float], None]  # (model key, 0..1) while a model loads


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class LeaseHolder(Protocol):
    """Who hands out leases (the ModelRuntime): waits for and loads a lease's models, and
    takes them back."""

    def enter_lease(self, lease: Lease) -> None: ...
    def leave_lease(self, lease: Lease) -> None: ...


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
    """`main` is the loaded main model, `draft` what it drafts with (None: no draft), both
    valid only inside the `with` block."""

    def __init__(
        self,
        holder: LeaseHolder,
        main: ModelRef,
        plan: DraftPlan,
        *,
        gone: Callable[[], bool] | None = None,
        cancel: CancelFlag | None = None,
        progress: LoadProgress | None = None,
        settings: LoadSettings | None = None,
        max_waiting: int | None = None,
    ) -> None:
        self.holder = holder
        self.main_ref = main
        self.plan = plan
        self.gone = gone
        self.cancel_flag = cancel
        self.progress = progress
        self.settings = settings
        self.max_waiting = max_waiting
        self.stop = threading.Event()  # set by evict(cancel=True) and close()
        self.slots: list[Slot] = []
        self._main: LoadedModel | None = None
        self.draft: DraftSource | None = None
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

    @property
    def main(self) -> LoadedModel:
        if self._main is None:
            raise SpeculaError("this lease is not held; enter it first")
        return self._main

    def hand_over(self, main: LoadedModel, draft: DraftSource | None) -> None:
        """The holder's side of entering: the loaded main model and the draft built for it."""
        self._main, self.draft = main, draft

    # --- life -----------------------------------------------------------------------------
    def __enter__(self) -> Lease:
        if self._active or self.slots:
            raise SpeculaError("this lease is already held")
        self.holder.enter_lease(self)
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
        self.holder.leave_lease(self)
        self._main = self.draft = None

    def cancel(self) -> None:
        """Stop the reply in progress (it ends within one round, as "cancelled")."""
        self.stop.set()

    def waiting_check(self) -> None:
        """Raise to leave the line: the client went away, the caller cancelled, or the
        runtime is closing."""
        if self.stop.is_set():
            raise ClientGoneError("stopped while waiting for the model")
        if self.gone is not None and self.gone():
            raise ClientGoneError("client disconnected while waiting")
        if self.cancel_flag is not None and self.cancel_flag.is_set():
            raise ClientGoneError("cancelled while waiting for the model")

    # --- generation -------------------------------------------------------------------------
    def generate(
        self, request: GenerationRequest, cancel: CancelFlag | None = None, *, prediction: str | None = None
    ) -> Generator[StreamItem, None, None]:
        """Stream one reply on the leased pair. Errors in the request (bad values, a prompt
        longer than the context, a template that fails) raise here, before the first item.
        `prediction`: text the caller expects in the reply (Predicted Outputs); it drafts
        first, the lease's own draft where it has nothing to offer."""
        if not self._active:
            raise SpeculaError("this lease has ended; take a new one")
        main = self.main
        draft = self.draft
        if prediction:
            # a prediction is text: it never reads as control tokens
            predicted = main.tokenize(prediction, add_special=False, parse_special=False)
            draft = PredictionDraft(predicted, fallback=self.draft)
        flag = AnyFlag(self.stop, self.cancel_flag, cancel)
        stream = main.generate(request, draft=draft, cancel=flag)
        self._streams.append(stream)
        return stream

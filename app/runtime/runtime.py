"""ModelRuntime: the one owner of loaded models, for the chat, the server, the CLI and the
advisor alike, on both engines.

- A model is loaded once per key and shared; a reply leases its main + draft pair for its
  whole life (`lease`), so nothing is closed or reloaded under a running decode.
- Draft pairs are checked against the library's cached compatibility index, not by reading
  headers per request; a model never drafts for itself.
- A draft is loaded with at least the main model's context (a draft loaded smaller is
  reloaded larger while its lease holds it).
- `evict` waits for the leases on a model (or cancels them, or defers the close to the last
  one); `close` cancels every reply, waits, and frees everything.
- Every model records when it was last used and whether it is pinned (the app's own models),
  so idle unloading (`evict_idle`) never touches a model a lease holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from app.engines.llamacpp import LoadOptions
from app.engines.loader import LoadedModel, load_ref
from app.engines.remote import RemoteModel
from app.library.compat_index import CompatibilityIndex
from app.library.draft_rules import DraftCompatibility
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.runtime.drafts import DraftPlan, build_draft, server_draft_spec
from app.runtime.errors import RuntimeClosedError
from app.runtime.lease import CancelFlag, Lease, LoadProgress
from app.runtime.model_ref import LoadedInfo, LoadSettings, ModelRef
from app.runtime.naming import ModelNames
from app.runtime.slots import MAX_WAITING, Clock, Slot, SlotTable

log = logging.getLogger(__name__)


class ModelRuntime:
    def __init__(
        self,
        library: ModelLibrary | None = None,
        defaults: ModelDefaultsStore | None = None,
        index: CompatibilityIndex | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`clock` times idle models (evict_idle); tests give their own."""
        self.library = library or ModelLibrary()
        self.defaults = defaults or ModelDefaultsStore()
        self.index = index or CompatibilityIndex(self.library)
        self._table = SlotTable(clock)
        self._leases: set[Lease] = set()
        self._closed = False
        self._names = ModelNames(self.library, self.index)

    # --- naming models ----------------------------------------------------------------------
    def resolve(self, spec: str) -> ModelRef:
        """A model by library key, name, file name or path (UnknownModelError if none)."""
        return self._names.resolve(spec)

    def resolve_draft(self, spec: str | None) -> DraftPlan:
        """A draft spec (none, prompt lookup, a model) as a plan."""
        return self._names.resolve_draft(spec)

    def check_pair(self, main: ModelRef, draft: ModelRef) -> DraftCompatibility:
        """Can `draft` draft for `main`? From the cached index, with a reason."""
        return self._names.check_pair(main, draft)

    def settings_for(self, key: str) -> LoadSettings:
        """A model's load settings from My Models (or the built-in defaults)."""
        values = self.defaults.effective(key)
        return LoadSettings(int(values["context_length"]), int(values["gpu_offload"]))

    # --- leases -----------------------------------------------------------------------------
    def lease(
        self,
        main: str,
        draft: str | None = None,
        *,
        gone: Callable[[], bool] | None = None,
        cancel: CancelFlag | None = None,
        progress: LoadProgress | None = None,
        settings: LoadSettings | None = None,
        max_waiting: int | None = MAX_WAITING,
    ) -> Lease:
        """A lease on `main` and its `draft` spec (a model, PROMPT_LOOKUP_KEY, or None/"").
        Names and the pair are checked now (UnknownModelError, DraftIncompatibleError);
        entering the lease waits for the models and loads them (`settings` for the main
        model when it is not loaded yet; the draft gets at least the main's context). A
        waiter leaves the line when `gone()` turns true or `cancel` is set."""
        if self._closed:
            raise RuntimeClosedError("the model runtime is shutting down")
        main_ref = self.resolve(main)
        plan = self.resolve_draft(draft)
        if plan.model is not None:
            self._names.refuse_unusable(main_ref, plan.model)
        return Lease(
            self,
            main_ref,
            plan,
            gone=gone,
            cancel=cancel,
            progress=progress,
            settings=settings,
            max_waiting=max_waiting,
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeClosedError("the model runtime is shutting down")

    def enter_lease(self, lease: Lease) -> None:
        """Wait for the lease's models (in key order: two leases never wait on each other),
        then load what needs loading."""

        def check() -> None:
            self._check_open()
            lease.waiting_check()

        refs = {lease.main_ref.key: lease.main_ref}
        if lease.plan.model is not None:
            refs[lease.plan.model.key] = lease.plan.model
        with self._table.cond:
            self._check_open()
            self._leases.add(lease)
        held: dict[str, Slot] = {}
        try:
            for key in sorted(refs):
                held[key] = self._table.acquire(refs[key], lease, check, lease.max_waiting)
                lease.slots.append(held[key])
            main_slot = held[lease.main_ref.key]
            main = self._ensure_loaded(
                main_slot, lease.settings or self.settings_for(main_slot.ref.key), lease.progress
            )
            draft_model: LoadedModel | None = None
            if lease.plan.model is not None:
                draft_slot = held[lease.plan.model.key]
                own = self.settings_for(draft_slot.ref.key)
                wanted = LoadSettings(max(own.n_ctx, main.n_ctx), own.n_gpu_layers)
                draft_model = self._ensure_loaded(draft_slot, wanted, lease.progress, at_least=True)
            self._check_open()
            if isinstance(main, RemoteModel):  # it drafts on its server, with what the lease chose
                lease.hand_over(main.drafting(server_draft_spec(lease.plan)), None)
                return
            draft = build_draft(lease.plan, main, draft_model)
        except BaseException:
            self.leave_lease(lease)
            raise
        lease.hand_over(main, draft)

    def leave_lease(self, lease: Lease) -> None:
        for slot in reversed(lease.slots):
            self._table.release(slot, lease)
        lease.slots.clear()
        with self._table.cond:
            self._leases.discard(lease)
            self._table.cond.notify_all()

    def _ensure_loaded(
        self,
        slot: Slot,
        settings: LoadSettings,
        progress: LoadProgress | None,
        at_least: bool = False,
        exact: bool = False,
    ) -> LoadedModel:
        """The slot's model, loaded (or reloaded) as asked. Only the slot's holder calls this.
        `at_least`: reload when it was loaded with a smaller context than `settings` asks;
        `exact`: reload when it was loaded with other settings; otherwise reuse it as it is."""
        current = slot.settings
        if slot.model is not None and current is not None:
            if at_least and current.n_ctx < settings.n_ctx:
                log.info("reloading %s with a %d-token context", slot.ref.key, settings.n_ctx)
            elif exact and current != settings:
                log.info("reloading %s with %s", slot.ref.key, settings)
            else:
                return slot.model
            old, slot.model, slot.settings = slot.model, None, None
            old.close()
        report = None
        if progress is not None:
            key = slot.ref.key

            def report(fraction: float) -> None:
                progress(key, fraction)

        model = load_ref(
            slot.ref,
            LoadOptions(n_ctx=settings.n_ctx, n_gpu_layers=settings.n_gpu_layers, progress=report),
        )
        with self._table.cond:
            slot.model, slot.settings = model, settings
            slot.last_used = self._table.clock()
        return model

    # --- loading for the app -------------------------------------------------------------------
    def load(
        self,
        key: str,
        settings: LoadSettings | None = None,
        *,
        progress: LoadProgress | None = None,
        pin: bool = False,
    ) -> LoadedInfo:
        """Load a model now (waiting for its running lease, if any), with `settings` (reloading
        it if it was loaded with other ones) or, when it is loaded already, as it is."""
        self._check_open()
        ref = self.resolve(key)
        token = object()
        with self._table.cond:
            slot = self._table.slots.get(ref.key)
            if slot is not None:
                slot.evict_pending = False  # wanted again
        slot = self._table.acquire(ref, token, self._check_open, max_waiting=None)
        try:
            wanted = settings or slot.settings or self.settings_for(ref.key)
            self._ensure_loaded(slot, wanted, progress, exact=settings is not None)
            with self._table.cond:
                slot.pinned = slot.pinned or pin
                slot.evict_pending = False
            return self._info(slot)
        finally:
            self._table.release(slot, token)

    def pin(self, key: str, pinned: bool = True) -> None:
        """Mark a loaded model as kept for the app (idle unloading skips it)."""
        with self._table.cond:
            slot = self._table.slots.get(key)
            if slot is not None:
                slot.pinned = pinned and slot.model is not None
                self._table._forget_if_unused(slot)

    # --- letting go -------------------------------------------------------------------------------
    def evict(self, key: str, *, cancel: bool = False, wait: bool = True) -> bool:
        """Free a model. Its running lease is waited for (or cancelled first, with `cancel`);
        with `wait=False` the close happens when that lease ends, and this returns at once.
        Returns whether the model was loaded."""
        with self._table.cond:
            slot = self._table.slots.get(key)
            if slot is None:
                return False
            slot.pinned = False
            loaded = slot.model is not None
            if cancel:
                for lease in self._leases:
                    if key in lease.keys and slot.holder is lease:
                        lease.cancel()
            if not wait and not slot.idle:
                slot.evict_pending = True
                return loaded
        token = object()
        slot = self._table.acquire(slot.ref, token, max_waiting=None, priority=True)
        try:
            with self._table.cond:
                model, slot.model, slot.settings = slot.model, None, None
            if model is not None:
                model.close()
                loaded = True
        finally:
            self._table.release(slot, token)
        return loaded

    def evict_idle(self, idle_seconds: float, keys: Iterable[str] | None = None) -> list[str]:
        """Free every model (of `keys`, when given) that is not pinned, not leased, nobody
        waits for, and has not been used for `idle_seconds`; returns their keys. Never
        touches a leased model."""
        now = self._table.clock()
        token = object()
        taken: list[Slot] = []
        only = None if keys is None else set(keys)
        with self._table.cond:
            for slot in list(self._table.slots.values()):
                if (
                    (only is None or slot.ref.key in only)
                    and slot.model is not None
                    and not slot.pinned
                    and slot.idle
                    and now - slot.last_used >= idle_seconds
                ):
                    slot.holder = token
                    taken.append(slot)
        for slot in taken:
            with self._table.cond:
                model, slot.model, slot.settings = slot.model, None, None
            if model is not None:  # held since it was found loaded: nobody else unloaded it
                model.close()
            self._table.release(slot, token)
        return [s.ref.key for s in taken]

    def cancel_all(self) -> None:
        """Ask every reply in progress to stop (each notices within one round)."""
        with self._table.cond:
            for lease in self._leases:
                lease.cancel()

    def close(self, timeout: float | None = None) -> None:
        """Cancel every reply, wait for the leases to end (at most `timeout` seconds), free
        every model no lease holds. Idempotent. A model still leased after the timeout is
        left alone (never closed under a decode) and logged."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._table.cond:
            self._closed = True
            for lease in self._leases:
                lease.cancel()
            self._table.cond.notify_all()
            while self._leases or any(s.holder is not None for s in self._table.slots.values()):
                if deadline is not None and time.monotonic() >= deadline:
                    break
                self._table.cond.wait(0.05)
            models = []
            for key, slot in list(self._table.slots.items()):
                if slot.holder is not None:
                    log.warning("%s is still in use after %ss; not closing it", key, timeout)
                    slot.evict_pending = True
                    continue
                if slot.model is not None:
                    models.append(slot.model)
                del self._table.slots[key]
        for model in models:
            model.close()

    # --- what is loaded -----------------------------------------------------------------------------
    def loaded(self) -> list[LoadedInfo]:
        with self._table.cond:
            return [self._info(s) for s in self._table.slots.values() if s.model is not None]

    def loaded_keys(self) -> set[str]:
        return {info.key for info in self.loaded()}

    def _info(self, slot: Slot) -> LoadedInfo:
        model = slot.model
        return LoadedInfo(
            key=slot.ref.key,
            name=slot.ref.name,
            engine=slot.ref.engine,
            path=str(slot.ref.path),
            n_ctx=int(model.n_ctx) if model is not None else 0,
            pinned=slot.pinned,
            leased=isinstance(slot.holder, Lease),
            waiting=len(slot.queue),
            last_used=slot.last_used,
        )

    @property
    def closed(self) -> bool:
        return self._closed

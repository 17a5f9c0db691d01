"""One slot per model: the loaded instance and a fair line of those who want it.

Whoever holds a slot (a lease, a load, an eviction) has the model to itself: it may decode
on it, load it, reload it with a larger context or close it. Everyone else waits in line,
first come first served; eviction may go to the front of the line (it still waits for the
holder). A waiter leaves the line as soon as its `check` raises (client gone, cancelled,
runtime closed). All slot state is guarded by one condition, never held during model work.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.runtime.errors import ModelBusyError
from app.runtime.model_ref import LoadSettings, ModelRef

if TYPE_CHECKING:
    from app.engines.loader import LoadedModel

MAX_WAITING = 8  # per model, besides the one running: more is refused as busy
POLL_SECONDS = 0.05  # how often a waiter looks at its client


Clock = Callable[[], float]  # seconds, only ever compared with itself (time.monotonic)


class Slot:
    def __init__(self, ref: ModelRef, now: float) -> None:
        self.ref = ref
        self.model: LoadedModel | None = None  # None while not loaded
        self.settings: LoadSettings | None = None  # what it was loaded with (asked for)
        self.holder: object | None = None
        self.queue: deque[object] = deque()
        self.pinned = False
        self.evict_pending = False  # close it when the holder lets go
        self.last_used = now

    @property
    def idle(self) -> bool:
        return self.holder is None and not self.queue

    @property
    def unused(self) -> bool:
        """Nothing loaded and nobody holding or waiting: the slot can go."""
        return self.model is None and self.idle and not self.pinned


class SlotTable:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.cond = threading.Condition()
        self.slots: dict[str, Slot] = {}

    def acquire(
        self,
        ref: ModelRef,
        token: object,
        check: Callable[[], None] | None = None,
        max_waiting: int | None = MAX_WAITING,
        priority: bool = False,
    ) -> Slot:
        """Hold the model's slot, waiting in line for it. `check` runs while waiting and
        raises to leave the line; `max_waiting` refuses a newcomer when the line is long."""
        with self.cond:
            if check is not None:
                check()
            slot = self.slots.get(ref.key)
            if slot is None:
                slot = self.slots[ref.key] = Slot(ref, self.clock())
            if slot.idle:
                slot.holder = token
                return slot
            if not priority and max_waiting is not None and len(slot.queue) >= max_waiting:
                raise ModelBusyError(f"{ref.name} is busy with other requests; retry shortly")
            if priority:
                slot.queue.appendleft(token)
            else:
                slot.queue.append(token)
            try:
                while slot.holder is not None or slot.queue[0] is not token:
                    self.cond.wait(POLL_SECONDS)
                    if check is not None:
                        check()
            except BaseException:
                slot.queue.remove(token)
                self._forget_if_unused(slot)
                self.cond.notify_all()
                raise
            slot.queue.popleft()
            slot.holder = token
            return slot

    def release(self, slot: Slot, token: object) -> None:
        """Let go of a slot; a pending eviction closes the model first (still holding it)."""
        with self.cond:
            if slot.holder is not token:
                return
            model = slot.model if slot.evict_pending else None
            if model is not None:
                slot.model, slot.settings = None, None
            slot.evict_pending = False
        if model is not None:
            model.close()
        with self.cond:
            slot.holder = None
            slot.last_used = self.clock()
            self._forget_if_unused(slot)
            self.cond.notify_all()

    def _forget_if_unused(self, slot: Slot) -> None:
        if slot.unused and self.slots.get(slot.ref.key) is slot:
            del self.slots[slot.ref.key]

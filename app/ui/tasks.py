"""Short background jobs (scanning the library, indexing drafts, preparing the bundled model)
run in their own QThread; every such thread is tracked so tests can prove none is left running."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from shiboken6 import isValid

log = logging.getLogger(__name__)

_live: weakref.WeakSet[QThread] = weakref.WeakSet()


def track(thread: QThread) -> QThread:
    _live.add(thread)
    return thread


def running_threads() -> list[QThread]:
    return [t for t in list(_live) if isValid(t) and t.isRunning()]


class BackgroundTask(QThread):
    """Runs `func(report)` off the GUI thread; `report(done, total)` feeds `progressed`."""

    succeeded = Signal(object)
    failedWith = Signal(str)
    progressed = Signal(int, int)

    def __init__(
        self, func: Callable[[Callable[[int, int], None]], Any], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._func = func
        track(self)

    def run(self) -> None:
        try:
            result = self._func(self.progressed.emit)
        except Exception as exc:  # shown to the user, never a traceback
            log.exception("background task failed")
            self.failedWith.emit(str(exc) or type(exc).__name__)
            return
        self.succeeded.emit(result)

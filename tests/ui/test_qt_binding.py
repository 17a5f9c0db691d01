"""Guards the PySide6 pin: PySide6 6.12.0's SignalInstance.emit() returns True/False without a
new reference, so on Python 3.11 every emit() eats a reference to a bool until the
interpreter aborts ("bool_dealloc"). The app emits constantly; this must not happen."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ping = Signal(float)


def test_emitting_signals_does_not_leak_bool_references(qapp):
    emitter = _Emitter()
    emitter.ping.connect(lambda _v: None)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(200):
        emitter.ping.emit(0.5)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before

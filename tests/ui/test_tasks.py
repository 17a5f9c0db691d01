"""Background tasks run off the GUI thread, and a thread left running fails the test that left it
(tests/conftest.py checks after every test)."""

from __future__ import annotations

import threading

from app.ui.tasks import BackgroundTask
from tests.conftest import threads_left


def test_a_task_left_running_is_found_and_a_finished_one_is_not(qtbot):
    release = threading.Event()
    task = BackgroundTask(lambda _report: release.wait(30))
    task.setObjectName("still busy")
    with qtbot.waitSignal(task.started):
        task.start()
    assert threads_left() == ["still busy"]
    with qtbot.waitSignal(task.succeeded) as done:
        release.set()
    task.wait(30_000)
    assert done.args == [True]
    assert threads_left() == []


def test_a_failing_task_says_why_in_words(qtbot):
    task = BackgroundTask(lambda _report: 1 / 0)
    with qtbot.waitSignal(task.failedWith) as failed:
        task.start()
    task.wait(30_000)
    assert failed.args == ["division by zero"]

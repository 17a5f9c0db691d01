"""Driving the real window on tiny models: load, choose a draft, send, wait."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QListWidget

from app.ui.main_window import MainWindow

WAIT = 60_000
QUICK = {"temperature": 0.0, "repeat_penalty": 1.0, "max_tokens": 24, "draft_p_min": 0.0}


def open_window(qtbot, **kwargs) -> MainWindow:
    w = MainWindow(auto_load=kwargs.pop("auto_load", False), **kwargs)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        pass
    return w


def load(qtbot, w: MainWindow, key: str) -> None:
    with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
        w.load_key(key)


def choose_draft(qtbot, w: MainWindow, key: str) -> None:
    if w.draft_key == key:
        return
    with qtbot.waitSignal(w.draftReady, timeout=WAIT, check_params_cb=lambda k: k == key):
        w.chat.sidebar.select_draft(key)


def settle_draft(qtbot, w: MainWindow) -> None:
    """The worker uses the draft the sidebar shows (a switch is queued behind a reply)."""
    qtbot.waitUntil(lambda: w.draft_key == w.chat.sidebar.selected_draft(), timeout=WAIT)


def send(qtbot, w: MainWindow, text: str, **settings) -> None:
    w.chat.sidebar.set_values({**QUICK, **settings})
    w.chat.prompt.setPlainText(text)
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.chat.send_button.click()


def start_long_reply(qtbot, w: MainWindow, text: str) -> None:
    """A reply that goes on until stopped; returns once its first text is on screen."""
    w.chat.sidebar.set_values({**QUICK, "max_tokens": 100_000})
    w.chat.prompt.setPlainText(text)
    w.chat.send_button.click()
    qtbot.waitUntil(lambda: bool(w.chat.flight and w.chat.flight.message.text), timeout=WAIT)


def stop(qtbot, w: MainWindow) -> None:
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.chat.stop_button.click()


def click_conversation(qtbot, w: MainWindow, title: str) -> None:
    """A click on a conversation in the list, as the user does it."""
    lst: QListWidget = w.chat.conv_list
    item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text() == title)
    rect = lst.visualItemRect(item)
    qtbot.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center()))


def titles(w: MainWindow) -> list[str]:
    return [w.chat.conv_list.item(i).text() for i in range(w.chat.conv_list.count())]

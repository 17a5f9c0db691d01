"""One shortcut registry, no key taken twice (issue 15, item 2), and a message box that Tab
leaves (item 11): real key presses on the real window."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from app.ui import shortcuts
from app.ui.shortcuts import SHORTCUTS, WINDOW, conflicts, markdown_table
from tests.ui.window_helpers import open_window


@pytest.fixture
def window(qtbot, library_models):
    w = open_window(qtbot)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    yield w
    w.shutdown()


def test_the_registry_takes_no_key_twice():
    assert conflicts() == []
    doubled = (*SHORTCUTS, shortcuts.Shortcut("again", "Again", "Ctrl+N", WINDOW, "Chat", "x"))
    assert conflicts(doubled) == [QKeySequence("Ctrl+N").toString()]


def test_every_key_in_the_window_is_one_action_of_the_registry(window):
    keys = [a.shortcut().toString() for a in window.findChildren(type(window.menu_actions["quit"]))]
    keys = [k for k in keys if k]
    assert len(keys) == len(set(keys)), keys
    assert window.findChildren(QShortcut) == []  # no shortcut outside the registry
    wanted = {QKeySequence(s.keys).toString() for s in SHORTCUTS if s.where == WINDOW and s.keys}
    assert set(keys) == wanted


def test_ctrl_n_starts_a_new_chat(qtbot, window):
    window.chat.session.rename("Mine")  # not an empty new chat any more
    before = window.chat.conversation_id
    window.chat.prompt.setFocus()
    qtbot.keyClick(window.chat.prompt, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    new = window.chat.conversation_id
    assert new != before  # and no "Ambiguous shortcut" (warnings fail tests)
    assert window.chat.prompt.hasFocus()
    qtbot.keyClick(window.chat.prompt, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.conversation_id == new  # one empty new chat, not a pile of them
    assert [c.title for c in window.store.conversations()].count("New chat") == 1


def test_tab_and_shift_tab_leave_the_message_box_and_ctrl_tab_types_a_tab(qtbot, window):
    prompt = window.chat.prompt
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    prompt.setPlainText("hello")
    qtbot.keyClick(prompt, Qt.Key.Key_Tab)
    assert not prompt.hasFocus()
    assert prompt.toPlainText() == "hello"
    # Send cannot act without a model, so Tab goes on to the settings
    assert window.chat.sidebar.isAncestorOf(window.focusWidget())
    prompt.setFocus()
    qtbot.keyClick(prompt, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert not prompt.hasFocus()
    assert prompt.toPlainText() == "hello"
    prompt.setFocus()
    prompt.moveCursor(prompt.textCursor().MoveOperation.End)
    qtbot.keyClick(prompt, Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier)
    assert prompt.hasFocus()
    assert prompt.toPlainText() == "hello\t"


def test_tab_reaches_send_when_it_can_act(qtbot, window, library_models):
    from tests.ui.window_helpers import load

    load(qtbot, window, library_models["main"])
    prompt = window.chat.prompt
    prompt.setFocus()
    prompt.setPlainText("ready")
    qtbot.keyClick(prompt, Qt.Key.Key_Tab)
    assert window.focusWidget() is window.chat.send_button
    qtbot.keyClick(window.chat.send_button, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert prompt.hasFocus()


def test_shortcuts_reach_their_actions(qtbot, window):
    window.chat.prompt.setFocus()
    qtbot.keyClick(window.chat.prompt, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.chat.prompt.hasFocus()
    visible = window.chat.sidebar.isVisible()
    qtbot.keyClick(
        window.chat.prompt,
        Qt.Key.Key_S,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.chat.sidebar.isVisible() != visible


def test_the_readme_lists_the_registry():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme

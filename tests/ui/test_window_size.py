"""The window's size is the user's: long names elide, panels fold, and nothing a user opens
(settings, conversations, My Models) makes the window grow. Measured at the sizes people use."""

from __future__ import annotations

from itertools import pairwise

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.main_window import MainWindow

SIZES = [(1000, 700), (1280, 800), (1400, 900)]
LONG_MAIN = "Gemma 3 270m instruction tuned QAT · F16 (unsloth/gemma-3-270m-it-qat-GGUF)"
LONG_DRAFT = "Gemma 3 270m instruction tuned QAT · Q4_K_M (unsloth/gemma-3-270m-it-qat-GGUF)"


@pytest.fixture
def window(qtbot):
    w = MainWindow(auto_load=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=60_000):
        pass
    yield w
    w.shutdown()


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


def assert_fits(w: MainWindow, size: tuple[int, int]) -> None:
    settle()
    assert (w.width(), w.height()) == size, "the window resized itself"
    chat = w.chat
    panels = [p for p in (chat.conversations, chat.splitter.widget(1), chat.sidebar) if p.isVisible()]
    window_rect = w.rect()
    for panel in panels:
        r = rect_in(panel, w)
        assert window_rect.contains(r), f"{panel.objectName()} reaches past the window: {r}"
        assert panel.width() >= panel.minimumSizeHint().width(), f"{panel.objectName()} is squeezed"
    sidebar = chat.sidebar
    if sidebar.isVisible():  # its content is never cut at the window's edge
        body = sidebar.widget()
        assert body.width() >= body.minimumSizeHint().width(), "the settings are squeezed"
        assert body.width() <= sidebar.viewport().width(), "the settings run past the panel"
    for a, b in pairwise(panels):
        assert rect_in(a, w).right() < rect_in(b, w).left(), "panels overlap"
    header = chat.header
    for label in (chat.pair_label, chat.pair_detail):
        assert rect_in(label, header).right() <= header.width(), "the title runs past the header"
    assert chat.view.width() >= 360, "the conversation keeps a readable width"


@pytest.mark.parametrize("size", SIZES)
def test_opening_panels_and_long_names_never_resize_the_window(qtbot, window, size):
    w = window
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    settle()
    assert_fits(w, size)
    w.chat.set_model_pair(LONG_MAIN, LONG_DRAFT)
    assert_fits(w, size)
    assert w.chat.pair_label.is_elided()
    assert LONG_MAIN in w.chat.pair_label.toolTip()  # the whole name on hover
    w.chat.sidebar_toggle.setChecked(True)  # settings, wherever they fit or not
    assert_fits(w, size)
    assert w.chat.sidebar.isVisible()
    w.chat.conversations_toggle.setChecked(True)
    assert_fits(w, size)
    assert w.chat.conversations.isVisible()
    w.nav.setCurrentRow(1)  # My Models
    settle()
    assert (w.width(), w.height()) == size
    w.nav.setCurrentRow(0)
    assert_fits(w, size)


def test_a_panel_folded_to_make_room_comes_back_when_the_window_grows(qtbot, window):
    w = window
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    settle()
    assert w.chat.conversations.isVisible()
    assert not w.chat.sidebar.isVisible()  # folded: the page is narrow
    w.chat.sidebar_toggle.setChecked(True)
    settle()
    assert not w.chat.conversations.isVisible()  # folded to make room for what the user opened
    w.resize(1400, 900)
    settle()
    assert w.chat.conversations.isVisible()
    assert w.chat.sidebar.isVisible()

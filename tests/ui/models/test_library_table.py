"""My Models at the sizes people use: every column inside the table (no sideways scroll bar),
the path's file name showing, a long problem elided rather than pushing the rest out, the
defaults' groups inside the page, and two models of the same name told apart as the model bar
tells them apart."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

from app.library.paths import models_dir
from app.ui.models.library_table import NAME_COLUMN, PATH_COLUMN, PROBLEMS_COLUMN
from tests.model_factory import write_tiny_gguf
from tests.ui.window_helpers import open_window


@pytest.fixture
def library(tiny_main):
    """Two models both named "Tiny" in two folders, and a file that is not a model."""
    keys = []
    for folder in ("alice/tiny-gguf", "bob/tiny-gguf"):
        path = models_dir() / folder / "tiny-q4.gguf"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_tiny_gguf(path, seed=0, name="Tiny")
        keys.append(f"{folder}/tiny-q4.gguf")
    broken = models_dir() / "carol" / "broken" / "half-downloaded-model-q8_0.gguf"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    return keys


@pytest.fixture
def window(qtbot, library):
    w = open_window(qtbot)
    yield w
    w.shutdown()


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


@pytest.mark.parametrize("size", [(1000, 700), (1280, 800)])
def test_my_models_fits_the_window(qtbot, window, library, size):
    w = window
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    w.nav.setCurrentRow(1)
    w.models.select(library[0])
    settle()
    assert (w.width(), w.height()) == size
    table = w.models.table
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    assert sum(table.columnWidth(c) for c in shown) <= table.viewport().width(), "a column is cut"
    assert not table.horizontalScrollBar().isVisible()
    names = [table.item(r, NAME_COLUMN).text() for r in range(table.rowCount())]
    assert len(set(names)) == len(names), names  # two "Tiny" told apart
    assert any("alice" in n for n in names)
    for r in range(table.rowCount()):
        file_name = table.item(r, PATH_COLUMN).text().rsplit("/", 1)[-1]
        assert table.shown_text(r, PATH_COLUMN).endswith(file_name), "the path hides its file name"
    assert PROBLEMS_COLUMN in shown  # the broken file says why, elided, whole on hover
    problem_row = next(r for r in range(table.rowCount()) if table.item(r, PROBLEMS_COLUMN).text())
    assert table.item(r, PROBLEMS_COLUMN).toolTip() == table.item(problem_row, PROBLEMS_COLUMN).text()
    editor_view = w.models.editor_scroll.viewport()
    assert not w.models.editor_scroll.horizontalScrollBar().isVisible()
    for box, _row, _column in w.models.group_boxes:
        r = rect_in(box, editor_view)
        assert r.left() >= 0
        assert r.right() <= editor_view.width(), f"{box.title()} is cut at the right"

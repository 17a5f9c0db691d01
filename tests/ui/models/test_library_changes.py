"""The library changing under a loaded model: a folder added (the welcome's button, File, or
F5 after copying files in) brings its drafts into the chat's draft list at once, without
loading the model again; and Eject during a reply says it waits for the reply, and offers Stop."""

from __future__ import annotations

import shutil

import pytest

from app.library.paths import models_dir
from app.ui.chat.sidebar import NONE_FOUND, SELECT_DRAFT
from tests.library.mlx_fixtures import write_mlx_folder
from tests.ui.window_helpers import WAIT, load, open_window, start_long_reply


@pytest.fixture
def lonely_main(tiny_main):
    """A library holding one model: nothing can draft for it."""
    folder = models_dir() / "test" / "alone"
    folder.mkdir(parents=True)
    shutil.copy(tiny_main, folder / "main.gguf")
    return "test/alone/main.gguf"


@pytest.fixture
def window(qtbot, lonely_main):
    w = open_window(qtbot)
    yield w
    w.shutdown()


def draft_keys(w) -> list[str]:
    combo = w.chat.sidebar.draft_combo
    return [combo.itemData(i) for i in range(combo.count())]


def test_a_folder_added_brings_its_drafts_into_the_chat_without_a_reload(
    qtbot, window, lonely_main, tmp_path, tiny_twin
):
    w = window
    load(qtbot, w, lonely_main)
    sidebar = w.chat.sidebar
    assert sidebar.draft_combo.itemText(0) == NONE_FOUND
    assert not sidebar.why_button.isEnabled()
    extra = tmp_path / "more-models"
    extra.mkdir()
    shutil.copy(tiny_twin, extra / "twin.gguf")
    write_mlx_folder(extra / "mlx-model", ["<s>", "</s>", "a"])  # another engine: cannot draft
    w.library.add_folder(extra)  # what File > Add a models folder and the welcome's button do
    with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
        w.refresh_library()
    assert w.loaded_key == lonely_main  # not loaded again
    assert sidebar.draft_combo.itemText(0) == SELECT_DRAFT
    assert any(str(k).endswith("twin.gguf") for k in draft_keys(w))
    assert sidebar.draft_combo.isEnabled()
    assert sidebar.why_button.isEnabled()  # the MLX model, which cannot draft, is explained


def test_eject_during_a_reply_says_it_waits_and_offers_stop(qtbot, window, lonely_main):
    w = window
    load(qtbot, w, lonely_main)
    start_long_reply(qtbot, w, "the cat")
    bar = w.model_bar
    bar.eject_button.click()
    assert "unloads when this reply ends" in bar.status.text()
    assert not bar.stop_button.isHidden()
    assert w.loaded_key == lonely_main  # still writing
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        bar.stop_button.click()
    qtbot.waitUntil(lambda: not w.loaded_key, timeout=WAIT)
    assert bar.stop_button.isHidden()
    assert w.chat.view.messages[-1].text  # what it wrote is kept
    assert w.chat.pair_label.text() == "No model loaded"

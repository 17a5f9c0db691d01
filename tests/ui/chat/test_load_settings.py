"""Settings typed in the chat's sidebar are never dropped: load settings are the loaded
model's (My Models shows the same values), said to apply when it loads again, with a button
that does it; a new chat goes on with the settings shown, not the model's defaults."""

from __future__ import annotations

import pytest

from tests.ui.window_helpers import WAIT, load, open_window, send


@pytest.fixture
def window(qtbot, library_models):
    w = open_window(qtbot)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    load(qtbot, w, library_models["main"])
    yield w
    w.shutdown()


def test_context_length_typed_in_the_sidebar_applies_on_reload(qtbot, window, library_models):
    w, main = window, library_models["main"]
    sidebar = w.chat.sidebar
    assert sidebar.reload_hint.isHidden()
    assert w.model_state.loaded_with is not None
    assert w.model_state.loaded_with.n_ctx == 4096
    sidebar.forms["load"].editors["context_length"].setValue(1024)  # as typed: valueChanged
    assert not sidebar.reload_hint.isHidden()
    assert sidebar.reload_hint.text() == "Context Length 1024 applies when the model loads again."
    assert not sidebar.reload_button.isHidden()
    assert w.defaults.effective(main)["context_length"] == 1024  # the model's own: My Models shows it
    w.nav.setCurrentRow(1)
    w.models.select(main)
    (form,) = [f for f in w.models.forms if "context_length" in f.editors]
    assert form.value("context_length") == 1024
    w.nav.setCurrentRow(0)
    with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
        sidebar.reload_button.click()
    assert w.loaded_key == main
    assert w.model_state.loaded_with.n_ctx == 1024
    assert sidebar.reload_hint.isHidden()
    assert sidebar.forms["load"].value("context_length") == 1024  # not dropped by the load
    w.controller.eject()
    qtbot.waitUntil(lambda: not w.loaded_key, timeout=WAIT)
    assert not sidebar.forms["load"].isEnabled()  # no model: nothing for them to apply to


def test_a_new_chat_keeps_the_max_tokens_typed(qtbot, window):
    w = window
    sidebar = w.chat.sidebar
    send(qtbot, w, "the cat", max_tokens=8)
    first = w.chat.conversation_id
    sidebar.forms["sampling"].editors["max_tokens"].setValue(333)
    w.chat.new_conversation()
    assert w.chat.conversation_id != first
    assert sidebar.values()["max_tokens"] == 333

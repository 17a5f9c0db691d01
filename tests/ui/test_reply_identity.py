"""A reply has an identity end to end (issue 22, bug 5): a draft that fails to load while a reply
waits behind it is the draft's failure, not the reply's; and nothing the engine thread says about
one reply lands in another."""

from __future__ import annotations

import pytest

from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult, GenerationStats
from app.library.paths import models_dir
from tests.ui.window_helpers import QUICK, WAIT, load, open_window, start_long_reply, stop


@pytest.fixture
def window(qtbot, library_models):
    w = open_window(qtbot)
    yield w
    w.shutdown()


def test_a_draft_failing_to_load_while_a_reply_waits_leaves_that_reply_alone(qtbot, window, library_models):
    w = window
    load(qtbot, w, library_models["main"])
    noisy = library_models["noisy"]
    (models_dir() / noisy).write_bytes(b"GGUF" + b"\1" * 64)  # listed, but it no longer loads
    w.chat.sidebar.set_values({**QUICK, "max_tokens": 100_000})
    w.chat.prompt.setPlainText("first")
    # In one turn of the GUI thread: the draft is queued to load, then the reply behind it.
    w.chat.sidebar.select_draft(noisy)
    w.chat.send_button.click()
    first = w.chat.flight
    assert first is not None
    qtbot.waitUntil(lambda: not w.chat.banner.isHidden(), timeout=WAIT)
    assert "draft" in w.chat.banner.text()
    assert w.chat.flight is first
    assert w.chat.busy
    qtbot.waitUntil(lambda: bool(first.message.text), timeout=WAIT)  # its tokens come to it
    assert w.chat.sidebar.selected_draft() == ""
    assert w.draft_key == ""
    w.chat.prompt.setPlainText("second")
    assert not w.chat.send_button.isEnabled()  # the next one waits for it
    stop(qtbot, w)
    stored = w.store.messages(w.chat.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[-1].content == first.message.text
    assert stored[-1].stats["stop_reason"] == "cancelled"
    assert not stored[-1].stats.get("draft_model")


def test_news_of_an_ended_reply_never_lands_in_the_next(qtbot, window, library_models):
    w = window
    load(qtbot, w, library_models["main"])
    start_long_reply(qtbot, w, "first")
    ended = w.chat.session.reply.id
    stop(qtbot, w)
    w.chat.new_conversation()  # the same words again: a reply known to write text (not where it stopped)
    start_long_reply(qtbot, w, "first")
    current = w.chat.flight
    # what the engine thread might still send about the first reply
    w.worker.tokensArrived.emit(ended, StreamBatch(pieces=[(" LEAKED", "main", 0)], tokens=1))
    w.worker.generationFinished.emit(ended, GenerationResult("late", GenerationStats()))
    w.worker.generationFailed.emit(ended, "the first reply failed late")
    assert w.chat.flight is current
    assert w.chat.busy
    assert "LEAKED" not in current.message.text
    assert w.chat.banner.isHidden()
    stop(qtbot, w)
    assert "LEAKED" not in w.store.messages(w.chat.conversation_id)[-1].content

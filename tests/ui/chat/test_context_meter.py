"""The context meter under the message box: it shows the latest count only, turns amber from
80%, and in the real window follows typing and replies on the loaded model."""

from __future__ import annotations

from app.chat.context_meter import ContextReading
from app.core.context_overflow import ContextOverflow
from app.ui.chat.context_meter import ContextMeter
from tests.ui.window_helpers import WAIT, load, open_window, send


def test_only_the_latest_count_shows_and_amber_from_80_percent(qtbot):
    meter = ContextMeter()
    qtbot.addWidget(meter)
    asked: list[int] = []
    meter.countRequested.connect(asked.append)
    meter.count_now()
    meter.count_now()
    assert asked == [1, 2]
    meter.show_reading(ContextReading(1, 100, 512, ContextOverflow.TRUNCATE_MIDDLE))
    assert meter.reading is None  # an older count: dropped
    assert meter.isHidden()
    meter.show_reading(ContextReading(2, 100, 512, ContextOverflow.TRUNCATE_MIDDLE))
    assert meter.label.text() == "100 / 512 tokens"
    assert meter.property("filling") is None
    assert not meter.label.property("filling")
    meter.count_now()
    meter.show_reading(ContextReading(3, 450, 512, ContextOverflow.STOP_AT_LIMIT))
    assert meter.label.text() == "450 / 512 tokens · 88% full: a reply stops when the context is full"
    assert meter.label.property("filling") is True
    assert meter.bar.value() == round(1000 * 450 / 512)
    assert "Stop at Limit" in meter.toolTip()
    meter.clear()
    assert meter.isHidden()


def test_the_window_counts_the_conversation_and_what_is_typed_on_the_loaded_model(qtbot, library_models):
    w = open_window(qtbot)
    try:
        meter = w.chat.meter
        load(qtbot, w, library_models["main"])
        qtbot.waitUntil(lambda: meter.reading is not None, timeout=WAIT)
        n_ctx = w.runtime.loaded()[0].n_ctx
        empty = meter.reading
        assert empty is not None
        assert empty.n_ctx == n_ctx
        w.chat.prompt.setPlainText("the cat sat on the mat " * 10)
        qtbot.waitUntil(
            lambda: meter.reading is not None and meter.reading.used > empty.used + 20, timeout=WAIT
        )
        w.chat.prompt.clear()
        send(qtbot, w, "the cat")
        qtbot.waitUntil(
            lambda: (
                meter.reading is not None and meter.reading.serial == meter.serial and meter.reading.used > 0
            ),
            timeout=WAIT,
        )
        assert meter.label.text().endswith(f"/ {n_ctx:,} tokens")
        assert meter.isVisible() or not w.isVisible()
    finally:
        w.shutdown()

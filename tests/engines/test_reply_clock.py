"""The reply's own no-draft speed: which single-token steps count."""

from __future__ import annotations

import pytest

from app.engines.reply_clock import ReplyClock


def clock(*plain: float) -> ReplyClock:
    c = ReplyClock()
    for seconds in plain:
        c.record(seconds, plain=True)
    return c


def test_the_slow_first_step_after_loading_is_left_out():
    c = clock(0.10)  # the prompt's last token, reading the weights from disk
    assert not c.measured
    c.record(0.05, plain=False)
    assert c.wants_plain()
    c.record(0.01, plain=True)
    assert c.measured
    assert c.counted == [0.01]
    assert c.plain_step == pytest.approx(0.01)


def test_a_stall_on_one_plain_step_is_left_out():
    assert clock(0.01, 2.0).plain_step == pytest.approx(0.01)
    assert clock(0.010, 0.011, 3.0, 0.012).counted == [0.010, 0.011, 0.012]


def test_steps_within_the_noise_all_count():
    assert clock(0.010, 0.013, 0.011).plain_step == pytest.approx(0.034 / 3)


def test_a_machine_that_became_slower_is_followed():
    """Slower steps that are most of them are the machine now, not a stall: they count."""
    assert clock(0.010, 0.030, 0.031, 0.029).counted == [0.010, 0.030, 0.031, 0.029]


def test_the_loop_reads_a_baseline_at_most_a_sixteenth_behind_and_the_reply_reports_it_exact():
    c = clock(*[0.010] * 160)
    assert c.plain_step == pytest.approx(0.010)
    for _ in range(5):  # fewer than 160 / 16 new steps: the loop's reading is not recomputed
        c.record(0.014, plain=True)
    assert c.plain_step == pytest.approx(0.010)
    exact = (160 * 0.010 + 5 * 0.014) / 165
    assert c.plain_tokens_per_second == pytest.approx(1 / exact)
    assert len(c.counted) == 165
    for _ in range(11):  # a sixteenth more: recomputed
        c.record(0.014, plain=True)
    assert c.plain_step == pytest.approx((160 * 0.010 + 16 * 0.014) / 176)

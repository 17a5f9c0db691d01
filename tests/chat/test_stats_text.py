"""The words under a reply: honest about what was measured and what was not."""

from __future__ import annotations

from app.chat.stats_text import (
    NO_BASELINE,
    acceptance_by_position,
    detail_rows,
    draft_parts,
    live_text,
    speed_parts,
    speedup_text,
    stats_line,
)
from app.core.events import GenerationStats, StopReason

WITH_DRAFT = GenerationStats(
    tokens_per_second=42.0,
    time_to_first_token=0.25,
    predicted_tokens_count=60,
    draft_model="draft.gguf",
    total_draft_tokens_count=40,
    accepted_draft_tokens_count=30,
    rejected_draft_tokens_count=10,
    verify_steps=25,
    rounds=[[4, 4], [4, 2], [0, 0], [8, 8]] + [[0, 0]] * 21,
    draft_note="no gain measured",
).to_dict()


def test_no_baseline_means_no_speedup_figure():
    assert speedup_text(WITH_DRAFT) == NO_BASELINE
    assert not any("x vs no draft" in p for p in speed_parts(WITH_DRAFT))
    rows = dict(detail_rows(WITH_DRAFT))
    assert rows["Without a draft"] == NO_BASELINE and "Speed-up" not in rows


def test_a_measured_baseline_gives_the_speedup():
    stats = {**WITH_DRAFT, "baseline_tokens_per_second": 30.0}
    assert speedup_text(stats) == "1.40x vs no draft"
    rows = dict(detail_rows(stats))
    assert rows["Speed-up"] == "1.40x" and rows["Without a draft"].startswith("30.0 tok/s")


def test_a_reply_without_a_draft_says_nothing_about_drafting():
    plain = GenerationStats(
        tokens_per_second=10, predicted_tokens_count=5, stop_reason=StopReason.CANCELLED
    ).to_dict()
    assert speedup_text(plain) is None and draft_parts(plain) == []
    assert stats_line(plain) == "10.0 tok/s · 0.00 s to first token · 5 tokens · stopped"


def test_draft_summary_tells_how_often_the_draft_ran_and_why_not():
    parts = draft_parts({**WITH_DRAFT, "draft_name": "Gemma 3 270m · Q4_K_M"})
    assert parts == [
        "Draft: Gemma 3 270m · Q4_K_M",
        "Accepted 30/40 draft tokens (75%)",
        "2.40 tokens per verify step",
        "drafted in 3 of 25 steps",
        "drafting paused: no gain measured",
    ]
    rows = dict(detail_rows(WITH_DRAFT))
    assert rows["From the draft"] == "30 of 60 reply tokens (50%)"
    assert rows["Draft model"] == "draft.gguf"  # no display name recorded: the engine's name


def test_acceptance_by_position_and_damaged_rounds():
    assert acceptance_by_position(WITH_DRAFT)[:3] == [1.0, 1.0, 2 / 3]
    assert acceptance_by_position({"rounds": [["x", None]]}) == []


def test_live_text():
    assert live_text(None, 0, 0, None, "", True) == "generating"
    assert (
        live_text(12.34, 8, 6, 4, "", True)
        == "12.3 tok/s · 6/8 drafted tokens accepted (75%) · draft length 4"
    )
    assert live_text(12.3, 8, 6, 0, "no gain measured", True).endswith("drafting paused: no gain measured")
    assert live_text(12.3, 0, 0, None, "", False) == "12.3 tok/s"
    # an engine without round reports: what the tokens say
    assert live_text(12.3, 0, 0, None, "", True, tokens=40, draft_tokens=30) == (
        "12.3 tok/s · 30 of 40 tokens from the draft"
    )

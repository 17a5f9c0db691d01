"""The words under a reply: honest about what was measured and what was not, and every figure
GenerationStats' own."""

from __future__ import annotations

from dataclasses import replace

from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import (
    NO_BASELINE,
    detail_rows,
    draft_parts,
    live_text,
    speed_parts,
    speedup_text,
    stats_line,
)
from app.chat.stream_batch import LiveStats, StreamBatch
from app.core.events import GenerationStats, RoundEvent, StopReason

DRAFTED = GenerationStats(
    tokens_per_second=42.0,
    time_to_first_token=0.25,
    predicted_tokens_count=60,
    draft_model="draft.gguf",
    total_draft_tokens_count=44,
    accepted_draft_tokens_count=30,
    rejected_draft_tokens_count=10,
    ignored_draft_tokens_count=4,
    verify_steps=25,
    rounds=[[4, 4], [4, 2], [0, 0], [8, 8]] + [[0, 0]] * 21,
    draft_note="no gain measured",
)
WITH_DRAFT = ReplyStats(DRAFTED)


def test_no_baseline_means_no_speedup_figure():
    assert speedup_text(WITH_DRAFT) == NO_BASELINE
    assert not any("x vs no draft" in p for p in speed_parts(WITH_DRAFT))
    rows = dict(detail_rows(WITH_DRAFT))
    assert rows["Without a draft"] == NO_BASELINE
    assert "Speed-up" not in rows


def test_a_measured_baseline_gives_the_speedup():
    stats = ReplyStats(replace(DRAFTED, baseline_tokens_per_second=30.0))
    assert speedup_text(stats) == "1.40x vs no draft"
    rows = dict(detail_rows(stats))
    assert rows["Speed-up"] == "1.40x"
    assert rows["Without a draft"].startswith("30.0 tok/s")


def test_a_reply_without_a_draft_says_nothing_about_drafting():
    plain = ReplyStats(
        GenerationStats(tokens_per_second=10, predicted_tokens_count=5, stop_reason=StopReason.CANCELLED)
    )
    assert speedup_text(plain) is None
    assert draft_parts(plain) == []
    assert stats_line(plain) == "10.0 tok/s · 0.00 s to first token · 5 tokens · stopped"


def test_the_details_say_how_a_reply_ended_in_words_not_stopped_because_stopped():
    stopped = ReplyStats(GenerationStats(predicted_tokens_count=5, stop_reason=StopReason.CANCELLED))
    rows = dict(detail_rows(stopped))
    assert rows["Ended"] == "you stopped it"
    assert "Stopped because" not in rows
    done = ReplyStats(GenerationStats(predicted_tokens_count=5, stop_reason=StopReason.MAX_TOKENS))
    assert dict(detail_rows(done))["Ended"] == "Max Tokens reached"


def test_a_full_context_is_not_max_tokens():
    full = ReplyStats(GenerationStats(predicted_tokens_count=5, stop_reason=StopReason.CONTEXT_FULL))
    assert speed_parts(full)[-1] == "context full"


def test_draft_summary_tells_how_often_the_draft_ran_and_why_not():
    parts = draft_parts(ReplyStats(DRAFTED, draft_name="Gemma 3 270m · Q4_K_M"))
    assert parts == [
        "Draft: Gemma 3 270m · Q4_K_M",
        "Accepted 30/40 draft tokens (75%)",  # of those sent: the 4 ignored were never asked about
        "2.40 tokens per verify step",
        "drafted in 3 of 25 steps",
        "drafting paused: no gain measured",
    ]
    rows = dict(detail_rows(WITH_DRAFT))
    assert rows["From the draft"] == "30 of 60 reply tokens (50%)"
    assert rows["Draft tokens"] == "44 drafted: 30 accepted, 10 rejected, 4 ignored"
    assert rows["Draft model"] == "draft.gguf"  # no display name recorded: the engine's name
    assert "Accepted after the stop" not in rows


def test_accepted_tokens_after_the_stop_are_not_said_to_be_in_the_reply():
    ended = ReplyStats(replace(DRAFTED, accepted_after_stop_count=1))
    rows = dict(detail_rows(ended))
    assert rows["Accepted after the stop"] == "1 (not in the reply)"
    assert rows["From the draft"] == "29 of 60 reply tokens (48%)"
    assert draft_parts(ended)[1] == "Accepted 30/40 draft tokens (75%)"  # accepted all the same


def test_live_text_reads_the_rounds_as_the_stats_count_them():
    live = LiveStats()
    assert live_text(live, True) == "generating"
    live.update(StreamBatch(rounds=[RoundEvent(1, 8, 6, 4)], tokens=8, elapsed=0.7))
    assert live_text(live, True) == "10.0 tok/s · 6/8 drafted tokens accepted (75%) · draft length 4"
    live.update(StreamBatch(rounds=[RoundEvent(2, 0, 0, 0, "no gain measured")], tokens=1, elapsed=0.8))
    assert live_text(live, True).endswith("drafting paused: no gain measured")
    assert live_text(live, False) == "10.0 tok/s"
    s = live.stats
    assert (s.accepted_draft_tokens_count, s.rejected_draft_tokens_count, s.rounds) == (
        6,
        2,
        [[8, 6], [0, 0]],
    )

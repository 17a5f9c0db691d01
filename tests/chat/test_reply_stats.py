"""Stats belong to the reply: Continue adds up, every draft used is named, a reply cut off
keeps what was measured."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.chat.reply_stats import ReplyStats, measured_so_far
from app.chat.stats_text import draft_parts, speed_parts
from app.chat.stream_batch import LiveStats, StreamBatch, StreamBatcher
from app.core.events import GenerationResult, GenerationStats, RoundEvent, StopReason
from app.core.request import DraftSettings, GenerationRequest
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.engines.helpers import GREEDY, raw, run

ONE = LoadOptions(n_ctx=512, n_threads=1)


def part(tokens, seconds, drafted, accepted, rounds, draft="q4.gguf", **kw) -> GenerationStats:
    return GenerationStats(
        tokens_per_second=tokens / seconds,
        time_to_first_token=kw.get("ttft", 0.5),
        generation_time=seconds,
        stop_reason=kw.get("stop", StopReason.EOS),
        prompt_tokens_count=kw.get("prompt", 10),
        predicted_tokens_count=tokens,
        draft_model=draft,
        total_draft_tokens_count=drafted,
        accepted_draft_tokens_count=accepted,
        rejected_draft_tokens_count=drafted - accepted,
        verify_steps=len(rounds),
        rounds=rounds,
        draft_note=kw.get("note"),
        baseline_tokens_per_second=kw.get("base"),
        baseline_steps=3 if kw.get("base") else 0,
    )


def test_merge_adds_up_a_reply_generated_in_two_parts():
    a = part(280, 10.0, 24, 23, [[12, 12], [12, 11]], ttft=0.7, base=20.0, stop=StopReason.MAX_TOKENS)
    b = part(
        50, 5.0, 20, 0, [[10, 0], [10, 0]], draft="other.gguf", prompt=300, note="no gain measured", base=10.0
    )
    m = a.merge(b)
    assert m.predicted_tokens_count == 330
    assert m.generation_time == 15.0
    assert m.tokens_per_second == 330 / 15.0
    assert m.time_to_first_token == 0.7
    assert (m.total_draft_tokens_count, m.accepted_draft_tokens_count, m.rejected_draft_tokens_count) == (
        44,
        23,
        21,
    )
    assert m.rounds == [[12, 12], [12, 11], [10, 0], [10, 0]]
    assert m.verify_steps == 4
    assert m.prompt_tokens_count == 10
    assert m.stop_reason == StopReason.EOS
    assert m.draft_note == "no gain measured"
    # each part measured its own no-draft speed: the whole's speed-up is theirs by time
    assert m.speedup == pytest.approx((1.4 * 10.0 + 1.0 * 5.0) / 15.0)
    assert m.baseline_steps == 6
    assert a.merge(replace(b, baseline_tokens_per_second=None, baseline_steps=0)).speedup is None
    assert m.acceptance_by_position()  # the chart's figures still read


def test_from_dict_reads_back_to_dict_and_shrugs_at_damage():
    a = part(10, 2.0, 4, 3, [[4, 3]], base=3.0)
    assert GenerationStats.from_dict(a.to_dict()) == a
    old = {**a.to_dict(), "baseline_steps": 0}  # saved when the baseline came from another hour
    assert GenerationStats.from_dict(old).speedup is None
    broken = GenerationStats.from_dict({"predicted_tokens_count": "x", "stop_reason": "??", "rounds": 3})
    assert broken == GenerationStats()


def test_continued_stats_name_every_draft_and_read_as_one_reply():
    first = ReplyStats.named(part(281, 10.0, 24, 23, [[24, 23]]), "Gemma · F16", "Gemma · Q4_K_M")
    later = ReplyStats.named(part(50, 5.0, 20, 0, [[20, 0]], draft="tiny.gguf"), "Gemma · F16", "Tiny")
    both = first.continued_by(later)
    g = both.generation
    assert g.predicted_tokens_count == 331
    assert g.accepted_draft_tokens_count == 23
    assert both.drafts_used == ["Gemma · Q4_K_M", "Tiny"]
    assert both.model_name == "Gemma · F16"
    text = " · ".join(speed_parts(both) + draft_parts(both))
    assert "331 tokens" in text
    assert "Drafts: Gemma · Q4_K_M, then Tiny" in text
    assert "Accepted 23/44" in text


def test_the_stored_form_reads_back_and_carries_the_views_extras_untouched():
    first = ReplyStats.named(part(281, 10.0, 24, 23, [[24, 23]]), "Gemma · F16", "Gemma · Q4_K_M")
    stored = {**first.to_dict(), "token_rounds": [[100, 1]]}  # the view's extras ride along
    assert ReplyStats.from_dict(stored) == first
    assert ReplyStats.from_dict({"token_rounds": [[1, 1]]}) is None  # a message without stats
    plain = ReplyStats.named(part(10, 1.0, 0, 0, [], draft=None), "Gemma", "Q4")
    assert plain.draft_name == ""
    assert plain.drafts_used == []
    assert "draft_name" not in plain.to_dict()


def test_a_reply_cut_off_keeps_what_the_stream_measured():
    live = LiveStats()
    rounds = [RoundEvent(1, 10, 9, 10), RoundEvent(2, 10, 8, 10), RoundEvent(3, 10, 8, 10)]
    live.update(StreamBatch(rounds=rounds, tokens=41, elapsed=4.0))
    stats = measured_so_far(live.stats, 0.8, "q4.gguf")
    assert stats.stop_reason is StopReason.CANCELLED
    assert stats.predicted_tokens_count == 41
    assert stats.tokens_per_second == 10.0
    assert stats.time_to_first_token == 0.8
    assert stats.accepted_draft_tokens_count == 25
    assert stats.rejected_draft_tokens_count == 5
    assert stats.rounds == [[10, 9], [10, 8], [10, 8]]
    assert stats.verify_steps == 3
    assert "41 tokens" in " ".join(speed_parts(ReplyStats(stats)))


def test_the_live_strip_folds_a_stream_to_the_engines_own_numbers(cycle_main, cycle_twin):
    """Whatever ends the reply (here a stop string inside an accepted draft), the rounds the
    strip saw are the rounds the stats count."""
    main, twin = LlamaCppModel(cycle_main, ONE), LlamaCppModel(cycle_twin, ONE)
    try:
        text = run(main, raw("the", 30)).text
        draft = DraftSettings(max_draft_size=5, p_min=0.0, auto=False)
        request = GenerationRequest(
            prompt="the", max_tokens=30, sampling=GREEDY, draft=draft, stop=(text[20:26],)
        )
        batcher, live = StreamBatcher(interval=0.0), LiveStats()
        for item in main.generate(request, draft=ModelDraft(twin)):
            if isinstance(item, GenerationResult):
                result = item.stats
            elif (batch := batcher.add(item)) is not None:
                live.update(batch)
        if (last := batcher.flush()) is not None:
            live.update(last)
        assert result.stop_reason is StopReason.STOP_STRING
        got = live.stats
        assert got.rounds == result.rounds
        assert got.predicted_tokens_count == result.predicted_tokens_count
        assert (got.accepted_draft_tokens_count, got.rejected_draft_tokens_count) == (
            result.accepted_draft_tokens_count,
            result.rejected_draft_tokens_count,
        )
        assert live.draft_tokens == result.draft_tokens_in_reply
    finally:
        main.close()
        twin.close()

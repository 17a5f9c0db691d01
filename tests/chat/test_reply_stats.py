"""Stats belong to the reply: Continue adds up, every draft used is named, a reply cut off
keeps what was measured."""

from __future__ import annotations

from app.chat.reply_stats import continued, measured_so_far, named
from app.chat.stats_text import draft_parts, speed_parts
from app.core.events import GenerationStats, StopReason


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
    )


def test_merge_adds_up_a_reply_generated_in_two_parts():
    a = part(280, 10.0, 24, 23, [[12, 12], [12, 11]], ttft=0.7, base=20.0, stop=StopReason.MAX_TOKENS)
    b = part(50, 5.0, 20, 0, [[10, 0], [10, 0]], draft="other.gguf", prompt=300, note="no gain measured")
    m = a.merge(b)
    assert m.predicted_tokens_count == 330 and m.generation_time == 15.0
    assert m.tokens_per_second == 330 / 15.0 and m.time_to_first_token == 0.7
    assert (m.total_draft_tokens_count, m.accepted_draft_tokens_count, m.rejected_draft_tokens_count) == (
        44,
        23,
        21,
    )
    assert m.rounds == [[12, 12], [12, 11], [10, 0], [10, 0]] and m.verify_steps == 4
    assert m.prompt_tokens_count == 10 and m.stop_reason == StopReason.EOS
    assert m.draft_note == "no gain measured" and m.baseline_tokens_per_second == 20.0
    assert m.acceptance_by_position()  # the chart's figures still read


def test_from_dict_reads_back_to_dict_and_shrugs_at_damage():
    a = part(10, 2.0, 4, 3, [[4, 3]], base=3.0)
    assert GenerationStats.from_dict(a.to_dict()) == a
    broken = GenerationStats.from_dict({"predicted_tokens_count": "x", "stop_reason": "??", "rounds": 3})
    assert broken == GenerationStats()


def test_continued_stats_name_every_draft_and_read_as_one_reply():
    first = named(part(281, 10.0, 24, 23, [[24, 23]]).to_dict(), "Gemma · F16", "Gemma · Q4_K_M")
    first["token_rounds"] = [[100, 1]]  # the view's extras ride along and are not merged here
    later = named(part(50, 5.0, 20, 0, [[20, 0]], draft="tiny.gguf").to_dict(), "Gemma · F16", "Tiny")
    both = continued(first, later)
    assert both["predicted_tokens_count"] == 331 and both["accepted_draft_tokens_count"] == 23
    assert both["drafts_used"] == ["Gemma · Q4_K_M", "Tiny"] and both["model_name"] == "Gemma · F16"
    text = " · ".join(speed_parts(both) + draft_parts(both))
    assert "331 tokens" in text and "Drafts: Gemma · Q4_K_M, then Tiny" in text and "Accepted 23/44" in text
    assert continued(None, later) == later


def test_a_reply_cut_off_keeps_what_the_stream_measured():
    stats = measured_so_far(41, 4.0, 0.8, 30, 25, [[10, 9], [10, 8], [10, 8]], "q4.gguf")
    assert stats["stop_reason"] == "cancelled" and stats["predicted_tokens_count"] == 41
    assert stats["tokens_per_second"] == 10.0 and stats["time_to_first_token"] == 0.8
    assert stats["accepted_draft_tokens_count"] == 25 and stats["rejected_draft_tokens_count"] == 5
    assert stats["rounds"] == [[10, 9], [10, 8], [10, 8]]
    assert "41 tokens" in " ".join(speed_parts(stats))

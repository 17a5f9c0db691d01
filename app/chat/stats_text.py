"""The words under each reply: speed, what the draft did, and why, as a person reads them.

Everything here reads a reply's ReplyStats (the engine's GenerationStats and the names the
chat adds), or a reply in progress's LiveStats; every figure is GenerationStats' own
(speed-up, acceptance, tokens per verify step), never recomputed here. A number that was not
measured is said to be missing, never made up: without a measured no-draft baseline there is
no "x faster".
"""

from __future__ import annotations

from app.chat.reply_stats import ReplyStats
from app.chat.stream_batch import LiveStats
from app.core.events import SpeculationReport, StopReason

STOP_WORDS = {
    StopReason.EOS: "finished",
    StopReason.MAX_TOKENS: "max tokens reached",
    StopReason.CONTEXT_FULL: "context full",
    StopReason.STOP_STRING: "stop string",
    StopReason.CANCELLED: "stopped",
    StopReason.ERROR: "error",
}
END_WORDS = {  # the details panel's "Ended" row: a sentence, not the line's word again
    StopReason.EOS: "the model finished its reply",
    StopReason.MAX_TOKENS: "Max Tokens reached",
    StopReason.CONTEXT_FULL: "the context is full",
    StopReason.STOP_STRING: "a stop string was written",
    StopReason.CANCELLED: "you stopped it",
    StopReason.ERROR: "an error",
}
NO_BASELINE = "no-draft speed not measured yet"
NO_SPECULATION = "This server reports no speculation"
NOT_COLOURED = {  # a server that says how many draft tokens it accepted, not which
    SpeculationReport.COUNTS: "the server reports how many draft tokens it accepted, not which: "
    "no token is coloured",
    SpeculationReport.ROUNDS: "the server reports every round, not which tokens came from the draft: "
    "no token is coloured",
}


def has_details(stats: ReplyStats) -> bool:
    """Whether a reply has a details panel: one with a draft, or a server's that reports no
    speculation (the panel says so)."""
    return stats.with_draft or stats.generation.speculation is SpeculationReport.NONE


def stop_word(stats: ReplyStats) -> str:
    reason = stats.generation.stop_reason
    return STOP_WORDS.get(reason, reason.value)


def speedup_text(stats: ReplyStats) -> str | None:
    """'1.4x vs no draft' from the measured baseline; None for a reply without a draft, or one
    measured elsewhere (an imported reply: no no-draft speed was measured alongside it)."""
    if not stats.with_draft or stats.measured_by:
        return None
    x = stats.generation.speedup
    return f"{x:.2f}x vs no draft" if x is not None else NO_BASELINE


def acceptance_text(stats: ReplyStats) -> str | None:
    """Accepted of the draft tokens the main model was asked about (ignored ones never were)."""
    g = stats.generation
    if not stats.with_draft:
        return None
    sent = g.accepted_draft_tokens_count + g.rejected_draft_tokens_count
    if not sent and g.speculation is not SpeculationReport.TOKENS:
        return "Draft tokens not reported"
    rate = g.acceptance_rate
    pct = f" ({100 * rate:.0f}%)" if rate is not None else ""
    return f"Accepted {g.accepted_draft_tokens_count}/{sent} draft tokens{pct}"


def speed_parts(stats: ReplyStats) -> list[str]:
    g = stats.generation
    parts = [f"{g.tokens_per_second:.1f} tok/s"]
    x = speedup_text(stats)
    if x:
        parts.append(x)
    parts += [
        f"{g.time_to_first_token:.2f} s to first token",
        f"{g.predicted_tokens_count} tokens",
        stop_word(stats),
    ]
    memory = memory_text(stats)
    if memory:
        parts.append(memory)
    if stats.measured_by:
        parts.append(f"measured by {stats.measured_by}")
    return parts


def memory_text(stats: ReplyStats) -> str | None:
    """What of the conversation the model could not see (the Context Overflow policy left
    those messages out of what it read; the conversation itself keeps them)."""
    n = stats.generation.truncated_turns
    if not n:
        return None
    return f"{n} earlier message{'s' if n != 1 else ''} beyond the context"


def draft_parts(stats: ReplyStats) -> list[str]:
    """What the draft did, for a reply with one: acceptance, tokens per step, how often it ran."""
    if not stats.with_draft:
        return []
    g = stats.generation
    label = "Drafts" if len(stats.drafts_used) > 1 else "Draft"
    parts = [f"{label}: {stats.drafts_label}"]
    acc = acceptance_text(stats)
    if acc:
        parts.append(acc)
    per_step = g.mean_tokens_per_step
    if per_step is not None:
        parts.append(f"{per_step:.2f} tokens per verify step")
    drafted, rounds = g.drafting_rounds
    if rounds and drafted < rounds:
        parts.append(f"drafted in {drafted} of {rounds} steps")
    if g.draft_note:
        parts.append(f"drafting paused: {g.draft_note}")
    if g.speculation in NOT_COLOURED:
        parts.append("not coloured: the server does not say which tokens")
    return parts


def stats_line(stats: ReplyStats) -> str:
    """Everything in one line (copying, accessibility, the plain-text transcript)."""
    return " · ".join(speed_parts(stats) + draft_parts(stats))


def live_text(live: LiveStats, with_draft: bool) -> str:
    """The strip under a reply while it streams: speed, and what the rounds so far did (counted
    at verification, as the final stats will be)."""
    g = live.stats
    tps = live.tokens_per_second
    parts = [f"{tps:.1f} tok/s" if tps is not None else "generating"]
    if with_draft:
        sent = g.accepted_draft_tokens_count + g.rejected_draft_tokens_count
        rate = g.acceptance_rate
        if rate is not None:
            parts.append(
                f"{g.accepted_draft_tokens_count}/{sent} drafted tokens accepted ({100 * rate:.0f}%)"
            )
        elif live.tokens and not live.paused:  # no round reported yet: what the tokens say
            parts.append(f"{live.draft_tokens} of {live.tokens} tokens from the draft")
        if live.paused:
            parts.append(f"drafting paused: {live.paused}")
        elif live.draft_length is not None:
            parts.append(f"draft length {live.draft_length}")
    return " · ".join(parts)


def detail_rows(stats: ReplyStats) -> list[tuple[str, str]]:
    """The figures of the details panel, as (label, value)."""
    g = stats.generation
    rows: list[tuple[str, str]] = [("Speed", f"{g.tokens_per_second:.1f} tok/s")]
    if stats.measured_by:
        rows.append(("Measured by", f"{stats.measured_by} (imported)"))
    elif stats.with_draft:
        base, x = g.baseline_tokens_per_second, g.speedup
        if base:
            rows.append(
                ("Without a draft", f"{base:.1f} tok/s, measured within this reply (its single-token steps)")
            )
            rows.append(("Speed-up", f"{x:.2f}x" if x is not None else "none"))
        else:
            rows.append(("Without a draft", NO_BASELINE))
    per_step = g.mean_tokens_per_step
    if per_step is not None:
        rows.append(("Tokens per verify step", f"{per_step:.2f} (1.00 is decoding without a draft)"))
    if stats.with_draft:
        rows.append(("Draft model", stats.drafts_label))
        accepted = g.accepted_draft_tokens_count
        counted = g.total_draft_tokens_count or g.speculation is SpeculationReport.TOKENS
        rows.append(
            (
                "Draft tokens",
                f"{g.total_draft_tokens_count} drafted: {accepted} accepted, "
                f"{g.rejected_draft_tokens_count} rejected, {g.ignored_draft_tokens_count} ignored"
                if counted
                else "not reported by the server",
            )
        )
        if g.accepted_after_stop_count:
            rows.append(("Accepted after the stop", f"{g.accepted_after_stop_count} (not in the reply)"))
        if g.predicted_tokens_count and counted:
            in_reply = g.draft_tokens_in_reply
            rows.append(
                (
                    "From the draft",
                    f"{in_reply} of {g.predicted_tokens_count} reply tokens "
                    f"({100 * in_reply / g.predicted_tokens_count:.0f}%)",
                )
            )
        drafted, rounds = g.drafting_rounds
        if rounds:
            rows.append(("Rounds that drafted", f"{drafted} of {rounds}"))
        if g.draft_note:
            rows.append(("Drafting paused", g.draft_note))
        if g.speculation in NOT_COLOURED:
            rows.append(("Colours", NOT_COLOURED[g.speculation].capitalize()))
    elif g.speculation is SpeculationReport.NONE:
        rows.append(("Speculation", NO_SPECULATION))
    rows.append(("Time to first token", f"{g.time_to_first_token:.2f} s"))
    reason = g.stop_reason
    rows.append(("Ended", END_WORDS.get(reason, reason.value)))
    return rows

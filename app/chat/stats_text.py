"""The words under each reply: speed, what the draft did, and why, as a person reads them.

Everything here reads a reply's stats dict (GenerationStats.to_dict() plus what the chat adds:
`draft_name`, `model_name`). A number that was not measured is said to be missing, never
made up: without a measured no-draft baseline there is no "x faster".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.events import GenerationStats

STOP_WORDS = {
    "eos": "finished",
    "max_tokens": "max tokens reached",
    "stop_string": "stop string",
    "cancelled": "stopped",
    "error": "error",
}
NO_BASELINE = "no-draft speed not measured yet"


def _f(stats: Mapping[str, Any], key: str) -> float:
    try:
        return float(stats.get(key) or 0)
    except (TypeError, ValueError):
        return 0.0


def _rounds(stats: Mapping[str, Any]) -> list[list[int]]:
    rounds = stats.get("rounds") or []
    try:
        return [[int(d), int(a)] for d, a in rounds]
    except (TypeError, ValueError):
        return []


def stop_word(stats: Mapping[str, Any]) -> str:
    reason = str(stats.get("stop_reason"))
    return STOP_WORDS.get(reason, reason)


def draft_name(stats: Mapping[str, Any]) -> str | None:
    """The draft's display name (the chat records it), else what the engine called it; every
    draft that wrote part of a reply that was continued with another one."""
    if not stats.get("draft_model"):
        return None
    used = stats.get("drafts_used")
    if isinstance(used, list) and len(used) > 1:
        return ", then ".join(str(u) for u in used)
    return str(stats.get("draft_name") or stats["draft_model"])


def speedup(stats: Mapping[str, Any]) -> float | None:
    base = _f(stats, "baseline_tokens_per_second")
    tps = _f(stats, "tokens_per_second")
    return tps / base if base > 0 and tps > 0 else None


def speedup_text(stats: Mapping[str, Any]) -> str | None:
    """'1.4x vs no draft' from the measured baseline; None for a reply without a draft."""
    if not stats.get("draft_model"):
        return None
    x = speedup(stats)
    return f"{x:.2f}x vs no draft" if x is not None else NO_BASELINE


def tokens_per_step(stats: Mapping[str, Any]) -> float | None:
    steps = _f(stats, "verify_steps")
    return _f(stats, "predicted_tokens_count") / steps if steps else None


def acceptance_by_position(stats: Mapping[str, Any]) -> list[float]:
    return GenerationStats(rounds=_rounds(stats)).acceptance_by_position()


def drafting_rounds(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(rounds that drafted, all rounds) of a reply with a draft."""
    rounds = _rounds(stats)
    return sum(1 for d, _ in rounds if d), len(rounds)


def acceptance_text(stats: Mapping[str, Any]) -> str | None:
    if not stats.get("draft_model"):
        return None
    total = int(_f(stats, "total_draft_tokens_count"))
    accepted = int(_f(stats, "accepted_draft_tokens_count"))
    pct = f" ({100 * accepted / total:.0f}%)" if total else ""
    return f"Accepted {accepted}/{total} draft tokens{pct}"


def speed_parts(stats: Mapping[str, Any]) -> list[str]:
    parts = [f"{_f(stats, 'tokens_per_second'):.1f} tok/s"]
    x = speedup_text(stats)
    if x:
        parts.append(x)
    parts += [
        f"{_f(stats, 'time_to_first_token'):.2f} s to first token",
        f"{int(_f(stats, 'predicted_tokens_count'))} tokens",
        stop_word(stats),
    ]
    return parts


def draft_parts(stats: Mapping[str, Any]) -> list[str]:
    """What the draft did, for a reply with one: acceptance, tokens per step, how often it ran."""
    if not stats.get("draft_model"):
        return []
    used = stats.get("drafts_used")
    label = "Drafts" if isinstance(used, list) and len(used) > 1 else "Draft"
    parts = [f"{label}: {draft_name(stats)}"]
    acc = acceptance_text(stats)
    if acc:
        parts.append(acc)
    per_step = tokens_per_step(stats)
    if per_step is not None:
        parts.append(f"{per_step:.2f} tokens per verify step")
    drafted, rounds = drafting_rounds(stats)
    if rounds and drafted < rounds:
        parts.append(f"drafted in {drafted} of {rounds} steps")
    note = stats.get("draft_note")
    if note:
        parts.append(f"drafting paused: {note}")
    return parts


def stats_line(stats: Mapping[str, Any]) -> str:
    """Everything in one line (copying, accessibility, the plain-text transcript)."""
    return " · ".join(speed_parts(stats) + draft_parts(stats))


def live_text(
    tokens_per_second: float | None,
    drafted: int,
    accepted: int,
    draft_length: int | None,
    paused: str,
    with_draft: bool,
    tokens: int = 0,
    draft_tokens: int = 0,
) -> str:
    """The strip under a reply while it streams. Without round reports from the engine, what
    the tokens themselves say: how many came from the draft."""
    parts = [f"{tokens_per_second:.1f} tok/s" if tokens_per_second is not None else "generating"]
    if with_draft:
        if drafted:
            parts.append(f"{accepted}/{drafted} drafted tokens accepted ({100 * accepted / drafted:.0f}%)")
        elif tokens and not paused:
            parts.append(f"{draft_tokens} of {tokens} tokens from the draft")
        if paused:
            parts.append(f"drafting paused: {paused}")
        elif draft_length is not None:
            parts.append(f"draft length {draft_length}")
    return " · ".join(parts)


def detail_rows(stats: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The figures of the details panel, as (label, value)."""
    rows: list[tuple[str, str]] = []
    tps = _f(stats, "tokens_per_second")
    base = _f(stats, "baseline_tokens_per_second")
    rows.append(("Speed", f"{tps:.1f} tok/s"))
    if stats.get("draft_model"):
        if base > 0:
            rows.append(("Without a draft", f"{base:.1f} tok/s, measured on this computer for this model"))
            rows.append(("Speed-up", f"{tps / base:.2f}x" if tps else "none"))
        else:
            rows.append(("Without a draft", NO_BASELINE))
    per_step = tokens_per_step(stats)
    if per_step is not None:
        rows.append(("Tokens per verify step", f"{per_step:.2f} (1.00 is decoding without a draft)"))
    if stats.get("draft_model"):
        rows.append(("Draft model", str(draft_name(stats))))
        total = int(_f(stats, "total_draft_tokens_count"))
        accepted = int(_f(stats, "accepted_draft_tokens_count"))
        rejected = int(_f(stats, "rejected_draft_tokens_count"))
        ignored = int(_f(stats, "ignored_draft_tokens_count"))
        rows.append(
            (
                "Draft tokens",
                f"{total} drafted: {accepted} accepted, {rejected} rejected, {ignored} ignored",
            )
        )
        predicted = int(_f(stats, "predicted_tokens_count"))
        if predicted:
            rows.append(
                (
                    "From the draft",
                    f"{accepted} of {predicted} reply tokens ({100 * accepted / predicted:.0f}%)",
                )
            )
        drafted, rounds = drafting_rounds(stats)
        if rounds:
            rows.append(("Rounds that drafted", f"{drafted} of {rounds}"))
        if stats.get("draft_note"):
            rows.append(("Drafting paused", str(stats["draft_note"])))
    rows.append(("Time to first token", f"{_f(stats, 'time_to_first_token'):.2f} s"))
    rows.append(("Stopped because", stop_word(stats)))
    return rows

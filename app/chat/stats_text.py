"""The line of stats under each reply, as words a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STOP_WORDS = {
    "eos": "finished",
    "max_tokens": "max tokens reached",
    "stop_string": "stop string",
    "cancelled": "stopped",
    "error": "error",
}


def acceptance_text(stats: Mapping[str, Any]) -> str | None:
    total = int(stats.get("total_draft_tokens_count") or 0)
    if not stats.get("draft_model"):
        return None
    accepted = int(stats.get("accepted_draft_tokens_count") or 0)
    pct = f" ({100 * accepted / total:.0f}%)" if total else ""
    return f"Accepted {accepted}/{total} draft tokens{pct}"


def stats_line(stats: Mapping[str, Any]) -> str:
    parts = [
        f"{float(stats.get('tokens_per_second') or 0):.1f} tok/s",
        f"{float(stats.get('time_to_first_token') or 0):.2f}s to first token",
        f"{int(stats.get('predicted_tokens_count') or 0)} tokens",
        f"Stop: {STOP_WORDS.get(str(stats.get('stop_reason')), str(stats.get('stop_reason')))}",
    ]
    acc = acceptance_text(stats)
    if acc:
        parts.append(acc)
        parts.append(f"Draft model: {stats['draft_model']}")
    return " · ".join(parts)

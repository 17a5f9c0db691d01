"""A reply's stats as the chat keeps them: the engine's numbers (GenerationStats.to_dict())
plus the names the user knows (`model_name`, `draft_name`, `drafts_used`).

The stats belong to the reply, not to its last part: Continue adds the new part's numbers to
the reply's, and a reply stopped by closing the window keeps what was measured so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core.events import GenerationStats, StopReason

NAMES = ("model_name", "draft_name")
DRAFTS_USED = "drafts_used"  # every draft that wrote part of the reply, in order


def named(stats: Mapping[str, Any], model_name: str, draft_name: str) -> dict[str, Any]:
    """The engine's stats with the names of the pair that produced them."""
    out = dict(stats)
    out["model_name"] = model_name
    if out.get("draft_model") and draft_name:
        out["draft_name"] = draft_name
    else:
        out.pop("draft_name", None)
    name = _draft_label(out)
    out[DRAFTS_USED] = [name] if name else []
    return out


def continued(previous: Mapping[str, Any] | None, later: Mapping[str, Any]) -> dict[str, Any]:
    """The stats of a reply that grew by `later` (both as `named` returns them)."""
    if not previous:
        return dict(later)
    merged = GenerationStats.from_dict(previous).merge(GenerationStats.from_dict(later))
    out: dict[str, Any] = {**merged.to_dict()}
    out["model_name"] = _models(previous, later)
    drafts = [str(d) for d in _list(previous.get(DRAFTS_USED)) or [_draft_label(previous)] if d]
    for d in _list(later.get(DRAFTS_USED)) or [_draft_label(later)]:
        if d and d not in drafts:
            drafts.append(str(d))
    out[DRAFTS_USED] = drafts
    name = later.get("draft_name") if later.get("draft_model") else previous.get("draft_name")
    if out.get("draft_model") and name:
        out["draft_name"] = name
    return out


def measured_so_far(
    tokens: int,
    elapsed: float,
    time_to_first_token: float,
    drafted: int,
    accepted: int,
    rounds: Sequence[Sequence[int]],
    draft_model: str | None,
) -> dict[str, Any]:
    """Stats for a reply cut off before the engine's own numbers arrived: what the stream
    itself measured (tokens, time since the first token, the rounds' drafts), never zeros."""
    stats = GenerationStats(
        tokens_per_second=(tokens - 1) / elapsed if elapsed > 0 and tokens > 1 else 0.0,
        time_to_first_token=time_to_first_token,
        generation_time=elapsed,
        stop_reason=StopReason.CANCELLED,
        predicted_tokens_count=tokens,
        draft_model=draft_model,
        total_draft_tokens_count=drafted,
        accepted_draft_tokens_count=accepted,
        rejected_draft_tokens_count=drafted - accepted,
        verify_steps=len(rounds),
        rounds=[[int(d), int(a)] for d, a in rounds],
    )
    return stats.to_dict()


def _draft_label(stats: Mapping[str, Any]) -> str:
    if not stats.get("draft_model"):
        return ""
    return str(stats.get("draft_name") or stats["draft_model"])


def _models(previous: Mapping[str, Any], later: Mapping[str, Any]) -> str:
    a, b = str(previous.get("model_name") or ""), str(later.get("model_name") or "")
    if not a or a == b:
        return b or a
    if not b or b in a.split(", then "):
        return a
    return f"{a}, then {b}"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

"""A reply's stats as the chat keeps them: the engine's GenerationStats (the one owner of what
was measured) plus the names the user knows (`model_name`, `draft_name`, `drafts_used`).

The stats belong to the reply, not to its last part: Continue adds the new part's numbers to
the reply's, and a reply stopped by closing the window keeps what was measured so far. The
stored form is a flat dict (GenerationStats.to_dict() plus the names); `to_dict` and
`from_dict` are the only places that read or write it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.core.events import GenerationStats, StopReason

DRAFTS_USED = "drafts_used"  # every draft that wrote part of the reply, in order
THEN = ", then "
MEASURED_BY = "measured_by"


@dataclass
class ReplyStats:
    generation: GenerationStats
    model_name: str = ""
    draft_name: str = ""  # the draft's name as the chat shows it ("" without a draft)
    drafts_used: list[str] = field(default_factory=list)
    # who measured the figures when it was not this app (an imported reply: "LM Studio"); no
    # speed-up is shown for them, since no no-draft speed was measured alongside
    measured_by: str = ""

    @property
    def with_draft(self) -> bool:
        return bool(self.generation.draft_model)

    @property
    def draft_label(self) -> str:
        """The draft's display name, else what the engine called it ("" without a draft)."""
        if not self.with_draft:
            return ""
        return self.draft_name or str(self.generation.draft_model)

    @property
    def drafts_label(self) -> str:
        """Every draft that wrote part of the reply (a reply continued with another one)."""
        return THEN.join(self.drafts_used) if len(self.drafts_used) > 1 else self.draft_label

    # --- building -------------------------------------------------------------------------------
    @classmethod
    def named(cls, stats: GenerationStats, model_name: str, draft_name: str) -> ReplyStats:
        """The engine's stats with the names of the pair that produced them."""
        out = cls(stats, model_name, draft_name if stats.draft_model else "")
        out.drafts_used = [out.draft_label] if out.draft_label else []
        return out

    def continued_by(self, later: ReplyStats) -> ReplyStats:
        """The stats of this reply grown by `later` (Continue)."""
        drafts = list(self.drafts_used) or ([self.draft_label] if self.draft_label else [])
        for d in later.drafts_used or ([later.draft_label] if later.draft_label else []):
            if d and d not in drafts:
                drafts.append(d)
        merged = self.generation.merge(later.generation)
        name = later.draft_name if later.with_draft else self.draft_name
        return ReplyStats(
            merged,
            _models(self.model_name, later.model_name),
            name if merged.draft_model else "",
            drafts,
            self.measured_by or later.measured_by,
        )

    # --- the stored form ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = self.generation.to_dict()
        out["model_name"] = self.model_name
        if self.draft_name:
            out["draft_name"] = self.draft_name
        out[DRAFTS_USED] = list(self.drafts_used)
        if self.measured_by:
            out[MEASURED_BY] = self.measured_by
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ReplyStats | None:
        """Stats stored by to_dict (None when `data` holds none: a user's message); the view's
        extras in the same dict are left alone."""
        if not data or "stop_reason" not in data:
            return None
        used = data.get(DRAFTS_USED)
        return cls(
            GenerationStats.from_dict(data),
            str(data.get("model_name") or ""),
            str(data.get("draft_name") or ""),
            [str(d) for d in used if d] if isinstance(used, list) else [],
            str(data.get(MEASURED_BY) or ""),
        )


def measured_so_far(
    live: GenerationStats, time_to_first_token: float, draft_model: str | None
) -> GenerationStats:
    """Stats for a reply cut off before the engine's own numbers arrived: what the stream
    itself measured (tokens, speed, the rounds' drafts, folded as the engine folds them),
    never zeros."""
    return replace(
        live,
        rounds=[list(r) for r in live.rounds],
        stop_reason=StopReason.CANCELLED,
        time_to_first_token=time_to_first_token,
        draft_model=draft_model,
    )


def _models(a: str, b: str) -> str:
    if not a or a == b:
        return b or a
    if not b or b in a.split(THEN):
        return a
    return f"{a}{THEN}{b}"

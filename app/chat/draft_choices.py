"""What the draft lists offer for a main model: the chat sidebar's dropdown and My Models'
default draft are filled from the same choices, worded the same way.

Prompt lookup comes first, then the compatible drafts (exact matches, then the ones that
draft through translation, badged ≈), each by a label no other model shares. A draft that
cannot speed the main model up is marked ⚠ with the reason on hover (one judge:
app/library/speed_up.py); else ★ where the size guide recommends it. No Qt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.compat_index import DraftReport
from app.library.model_labels import base_label, hover_text, translated, translation_tip, warned
from app.library.speed_up import cannot_speed_up


@dataclass(frozen=True)
class DraftChoice:
    key: str
    text: str  # as listed: the mark, the ≈ badge and the label
    tooltip: str
    warning: str = ""  # why it cannot speed the main model up ("" when nothing speaks against it)


@dataclass(frozen=True)
class DraftChoices:
    report: DraftReport
    choices: tuple[DraftChoice, ...]

    @property
    def main_key(self) -> str:
        return self.report.main.key

    @property
    def found(self) -> bool:
        """Whether any model can draft (prompt lookup always can, where it is offered)."""
        return bool(self.report.compatible)

    def offers(self, key: str) -> bool:
        """Whether `key` can be chosen ("" is no draft, always offered)."""
        return not key or any(c.key == key for c in self.choices)

    def incompatible(self) -> list[tuple[str, str]]:
        """(model key, why it cannot draft) for every other model."""
        return [(e.key, reason) for e, reason in self.report.incompatible]


def draft_choices(
    report: DraftReport, labels: Mapping[str, str] | None = None, measured: Mapping[str, str] | None = None
) -> DraftChoices:
    """`labels`: key -> a label no other model shares; `measured`: key -> why the advisor found
    that draft no faster for this main model."""
    labels = labels or {}
    lookup_warning = cannot_speed_up(PROMPT_LOOKUP_KEY, report.main, None, measured)
    choices = []
    if report.prompt_lookup:  # a server other than Specula takes no draft per request
        choices.append(
            DraftChoice(
                PROMPT_LOOKUP_KEY,
                warned(PROMPT_LOOKUP_NAME, lookup_warning),
                f"⚠ {lookup_warning}" if lookup_warning else "",
                lookup_warning,
            )
        )
    for option in report.compatible:
        e = option.entry
        warning = cannot_speed_up(e.key, report.main, e, measured)
        mark = "⚠ " if warning else ("★ " if option.recommended else "")
        tip = hover_text(e, warning)
        if option.translated:  # a draft with another tokenizer says so, and why
            tip += "\n" + translation_tip(option.share, option.reason)
        label = translated(labels.get(e.key) or base_label(e), option.translated)
        choices.append(DraftChoice(e.key, f"{mark}{label}", tip, warning))
    return DraftChoices(report, tuple(choices))

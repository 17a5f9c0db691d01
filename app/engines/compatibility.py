"""The engines' last-line guard: a loaded draft that cannot draft for the loaded main model
is refused before any work. The pairing rules themselves live in app/library/draft_rules.py
(next to the compatibility index); a verdict is computed once per pair of loaded models.
"""

from __future__ import annotations

import weakref
from typing import Any

from app.core.errors import DraftIncompatibleError
from app.engines.drafting import PromptLookupDraft
from app.library.draft_rules import DraftCompatibility, check_vocab_pair

# main model -> draft model -> verdict; entries vanish with the models
_verdicts: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, DraftCompatibility]] = (
    weakref.WeakKeyDictionary()
)


def _pair_verdict(main: Any, draft: Any, exact_size: bool) -> DraftCompatibility:
    per_main = _verdicts.setdefault(main, weakref.WeakKeyDictionary())
    verdict = per_main.get(draft)
    if verdict is None:
        verdict = check_vocab_pair(main.info.vocab, draft.info.vocab, exact_size=exact_size)
        per_main[draft] = verdict
    return verdict


def refuse_unusable_draft(main: Any, draft: Any, exact_size: bool = False) -> None:
    """Raise DraftIncompatibleError unless the loaded `draft` can draft for the loaded `main`
    (another instance, same engine, compatible vocabulary). Prompt lookup needs no model, nor
    does any ready draft source (one that proposes tokens itself, such as a predicted output)."""
    if draft is None or isinstance(draft, PromptLookupDraft) or hasattr(draft, "propose"):
        return
    if draft is main:
        raise DraftIncompatibleError(
            f"{main.name} cannot draft for itself: main and draft would share one cache"
        )
    if type(draft) is not type(main):
        raise DraftIncompatibleError(
            f"the draft runs on {getattr(draft, 'engine', 'another engine')} but the main model runs on "
            f"{main.engine}; a draft must use the same engine"
        )
    verdict = _pair_verdict(main, draft, exact_size)
    if not verdict:
        raise DraftIncompatibleError(f"{draft.name} cannot draft for {main.name}: {verdict.reason}")

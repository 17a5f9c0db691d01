"""The engines' last-line guard: a loaded draft that cannot draft for the loaded main model
is refused before any work, and one with another tokenizer is wrapped to draft through
translation (app/engines/translated_draft.py). The pairing rules themselves live in
app/library/draft_rules.py (next to the compatibility index); a verdict is computed once per
pair of loaded models.
"""

from __future__ import annotations

import weakref
from typing import Any

from app.core.errors import DraftIncompatibleError
from app.engines.drafting import ChainedDraft, ModelDraft, PromptLookupDraft, draft_model_of
from app.engines.translated_draft import TranslatedDraft
from app.library.draft_rules import DraftCompatibility, check_pair_translating

# main model -> draft model -> verdict; entries vanish with the models
_verdicts: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, DraftCompatibility]] = (
    weakref.WeakKeyDictionary()
)


def _pair_verdict(main: Any, draft: Any, exact_size: bool) -> DraftCompatibility:
    per_main = _verdicts.setdefault(main, weakref.WeakKeyDictionary())
    verdict = per_main.get(draft)
    if verdict is None:
        verdict = check_pair_translating(main.info.vocab, draft.info.vocab, exact_size=exact_size)
        per_main[draft] = verdict
    return verdict


def refuse_unusable_draft(main: Any, draft: Any, exact_size: bool = False) -> DraftCompatibility | None:
    """Raise DraftIncompatibleError unless the loaded `draft` can draft for the loaded `main`
    (another instance, same engine, a vocabulary that matches or translates); its verdict
    (None for no draft or prompt lookup, which needs no model)."""
    if draft is None or isinstance(draft, PromptLookupDraft):
        return None
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
    if not verdict.usable:
        raise DraftIncompatibleError(f"{draft.name} cannot draft for {main.name}: {verdict.reason}")
    return verdict


def usable_draft(main: Any, draft: object | None, exact_size: bool = False) -> object | None:
    """What `main` drafts with for the `draft` argument (a model, a draft source or None),
    checked: a draft model with another tokenizer comes back wrapped in a TranslatedDraft
    (chained with prompt lookup if it was); anything unusable raises DraftIncompatibleError."""
    fallback = getattr(draft, "fallback", None)
    if fallback is not None:  # a predicted output drafting with a model where it has nothing
        draft.fallback = usable_draft(main, fallback, exact_size)  # type: ignore[union-attr]
        return draft
    verdict = refuse_unusable_draft(main, draft_model_of(draft), exact_size)
    if verdict is None or verdict.compatible:
        return draft
    model = draft_model_of(draft)
    if isinstance(draft, TranslatedDraft) and draft.main is main:
        return draft
    if isinstance(draft, ChainedDraft):
        if isinstance(draft.draft, TranslatedDraft) and draft.draft.main is main:
            return draft
        return ChainedDraft(TranslatedDraft(main, model), draft.lookup)
    if draft is model or isinstance(draft, ModelDraft):
        return TranslatedDraft(main, model)
    raise DraftIncompatibleError(f"{getattr(model, 'name', 'the draft')} cannot draft for {main.name} here")

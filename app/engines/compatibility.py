"""Which draft a loaded main model drafts with, checked once per lease.

`draft_source` turns a loaded draft model into the DraftSource a lease keeps: the model's own
proposals when the two vocabularies are one (ModelDraft), proposals translated into the main
model's tokens when they differ but translate (TranslatedDraft), chained with prompt lookup
when asked. A pair that cannot draft raises DraftIncompatibleError before any work. The
engines' last-line guard (`check_draft_source`) refuses a source whose model cannot draft for
the main model it is given to. The pairing rules themselves live in
app/library/draft_rules.py (next to the compatibility index); a verdict is computed once per
pair of loaded models.
"""

from __future__ import annotations

import weakref
from typing import Protocol

from app.core.errors import DraftIncompatibleError
from app.engines.drafting import DraftModel, DraftSource, ModelDraft
from app.engines.lookup_draft import ChainedDraft
from app.engines.translated_draft import TextModel, TranslatedDraft
from app.library.draft_rules import DraftCompatibility, check_pair_translating
from app.library.entry import MLX


class EngineModel(TextModel, Protocol):
    """A loaded model as the pairing rules see it."""

    engine: str


# main model -> draft model -> verdict; entries vanish with the models
_verdicts: weakref.WeakKeyDictionary[object, weakref.WeakKeyDictionary[object, DraftCompatibility]] = (
    weakref.WeakKeyDictionary()
)


def _pair_verdict(main: EngineModel, draft: EngineModel) -> DraftCompatibility:
    per_main = _verdicts.setdefault(main, weakref.WeakKeyDictionary())
    verdict = per_main.get(draft)
    if verdict is None:
        verdict = check_pair_translating(main.info.vocab, draft.info.vocab, exact_size=main.engine == MLX)
        per_main[draft] = verdict
    return verdict


def refuse_unusable_draft(main: EngineModel, draft: object) -> DraftCompatibility:
    """Raise DraftIncompatibleError unless the loaded `draft` can draft for the loaded `main`
    (another instance, same engine, a vocabulary that matches or translates); its verdict."""
    if draft is main:
        raise DraftIncompatibleError(
            f"{main.name} cannot draft for itself: main and draft would share one cache"
        )
    if type(draft) is not type(main):
        raise DraftIncompatibleError(
            f"the draft runs on {getattr(draft, 'engine', 'another engine')} but the main model runs on "
            f"{main.engine}; a draft must use the same engine"
        )
    assert isinstance(draft, type(main))
    verdict = _pair_verdict(main, draft)
    if not verdict.usable:
        raise DraftIncompatibleError(f"{draft.name} cannot draft for {main.name}: {verdict.reason}")
    return verdict


def draft_source(main: EngineModel, model: EngineModel, *, lookup: bool = False) -> DraftSource:
    """What `main` drafts with for the loaded draft `model`: its own proposals, or translated
    ones for another tokenizer; chained with prompt lookup when `lookup`."""
    verdict = refuse_unusable_draft(main, model)
    source: DraftSource = ModelDraft(model) if verdict.compatible else TranslatedDraft(main, model)
    return ChainedDraft(source) if lookup else source


def check_draft_source(main: EngineModel, source: DraftSource | None) -> None:
    """Refuse a source whose draft model cannot draft for `main` (raises before any work)."""
    if source is None or source.model is None:
        return
    model: DraftModel = source.model
    verdict = refuse_unusable_draft(main, model)
    if not verdict.compatible and source.translates_for is not main:
        raise DraftIncompatibleError(
            f"{model.name} has another vocabulary than {main.name}: it drafts for it through "
            "translation only (build its source with draft_source)"
        )

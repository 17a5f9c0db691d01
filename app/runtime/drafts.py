"""What a draft spec means, in one place.

A spec is what a user or a request names as the draft: nothing (None, "" or "none"),
prompt lookup (`PROMPT_LOOKUP_KEY`), a model (key, name or path), or a model chained with
prompt lookup (`chained_key(model)`: lookup first, the model when lookup has nothing).
`resolve_draft_spec` is the only function that reads specs, and `build_draft` the only one
that turns a resolved plan and the loaded models into what the engine drafts with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import DraftIncompatibleError
from app.engines.compatibility import draft_source
from app.engines.drafting import PROMPT_LOOKUP_KEY, DraftSource, chained_key, parse_draft_key
from app.engines.loader import LoadedModel
from app.engines.lookup_draft import PromptLookupDraft
from app.engines.remote import RemoteModel
from app.runtime.model_ref import ModelRef


@dataclass(frozen=True)
class DraftPlan:
    spec: str | None  # as given
    model: ModelRef | None = None  # a draft model to load and lease
    lookup: bool = False  # prompt lookup

    @property
    def key(self) -> str | None:
        """The canonical spec: the draft model's key (chained with lookup or not), the
        prompt-lookup key, or None."""
        if self.model is not None:
            return chained_key(self.model.key) if self.lookup else self.model.key
        return PROMPT_LOOKUP_KEY if self.lookup else None


NO_DRAFT = DraftPlan(None)


def resolve_draft_spec(spec: str | None, resolve: Callable[[str], ModelRef]) -> DraftPlan:
    """A draft spec as a plan; `resolve` turns a model spec into a ModelRef (or raises)."""
    text = (spec or "").strip()
    if not text or text.lower() == "none":
        return NO_DRAFT
    model_spec, lookup = parse_draft_key(text)
    if model_spec is None:
        return DraftPlan(spec, lookup=True)
    return DraftPlan(spec, resolve(model_spec), lookup=lookup)


def server_draft_spec(plan: DraftPlan) -> str | None:
    """What a model on a server is asked to draft with, in the server's own names: its model's
    id there, prompt lookup, or both chained (another Specula reads these specs too)."""
    model = plan.model.remote.model_id if plan.model is not None and plan.model.remote else None
    if model is not None:
        return chained_key(model) if plan.lookup else model
    return PROMPT_LOOKUP_KEY if plan.lookup else None


def build_draft(plan: DraftPlan, main: LoadedModel, model: LoadedModel | None) -> DraftSource | None:
    """What `main` drafts with for this plan, built once per lease: the loaded draft model
    (its own proposals, or translated for another tokenizer), prompt lookup, both chained,
    or None. An unusable pair raises DraftIncompatibleError (a model on a server drafts
    there: `server_draft_spec`)."""
    if isinstance(main, RemoteModel) or isinstance(model, RemoteModel):
        raise DraftIncompatibleError("a model on a server drafts on that server, with its own models")
    if model is not None:
        return draft_source(main, model, lookup=plan.lookup)
    if plan.lookup:
        return PromptLookupDraft()
    return None

"""Which model a name means (the library's one resolver, `app.library.resolve`), and whether
one model can draft for another.

Pairs are answered from the library's cached compatibility index (compatible,
drafts through translation, or not), never by reading headers per request; models outside
every library folder (the CLI takes any path) are read once and remembered by path, size and
mtime. A model never drafts for itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import DraftIncompatibleError
from app.library.compat_index import CompatibilityIndex
from app.library.draft_rules import DraftCompatibility, check_draft
from app.library.library import ModelLibrary
from app.library.resolve import DRAFT, MAIN, ModelRef, resolve_model
from app.runtime.drafts import DraftPlan, resolve_draft_spec
from app.runtime.errors import SelfDraftError

SELF_DRAFT = "a model cannot draft for itself (main and draft would share one cache)"


class ModelNames:
    def __init__(self, library: ModelLibrary, index: CompatibilityIndex) -> None:
        self.library = library
        self.index = index
        self._path_verdicts: dict[tuple[str, ...], DraftCompatibility] = {}

    def resolve(self, spec: str, role: str = MAIN) -> ModelRef:
        """A model by library key, name, file name or path (the bundled model by its aliases)."""
        return resolve_model(spec, self.library, role=role)

    def resolve_draft(self, spec: str | None) -> DraftPlan:
        return resolve_draft_spec(spec, lambda model: self.resolve(model, DRAFT))

    def check_pair(self, main: ModelRef, draft: ModelRef) -> DraftCompatibility:
        """Can `draft` draft for `main` (exactly, or through translation: `.usable`)? With a
        reason a person can act on."""
        if is_same_model(main, draft):
            return DraftCompatibility(False, SELF_DRAFT)
        if main.remote is not None or draft.remote is not None:
            return server_pair(main, draft)
        entries = self.library.entries
        m, d = entries.get(main.key), entries.get(draft.key)
        if m is not None and d is not None:
            indexed = self.index.verdict(m, d)
            self.index.save()  # writes only when this verdict was new
            return indexed
        memo = (*_stamp(main.path), *_stamp(draft.path))
        verdict = self._path_verdicts.get(memo)
        if verdict is None:
            verdict = self._path_verdicts[memo] = check_draft(main.path, draft.path, translate=True)
        return verdict

    def refuse_unusable(self, main: ModelRef, draft: ModelRef) -> None:
        """Raise SelfDraftError or DraftIncompatibleError unless `draft` can draft for `main`
        (a draft with another tokenizer on the same engine drafts through translation)."""
        verdict = self.check_pair(main, draft)
        if verdict.usable:
            return
        if is_same_model(main, draft):
            raise SelfDraftError(f"{main.name} cannot draft for itself: choose another draft model")
        raise DraftIncompatibleError(f"{draft.name} cannot draft for {main.name}: {verdict.reason}")


def server_pair(main: ModelRef, draft: ModelRef) -> DraftCompatibility:
    """A model on a server drafts with a model on the same server (the server checks the pair
    and says why when it refuses); a model here never drafts for one there, nor the reverse."""
    if main.remote is not None and draft.remote is not None:
        if main.remote.server == draft.remote.server:
            return DraftCompatibility(True)
        return DraftCompatibility(
            False, f"{draft.name} is on server {draft.remote.server}, {main.name} on {main.remote.server}"
        )
    if main.remote is not None:
        return DraftCompatibility(False, f"{main.name} drafts on its server, with the models that server has")
    return DraftCompatibility(False, f"{draft.name} is on another server: it cannot draft for a model here")


def is_same_model(a: ModelRef, b: ModelRef) -> bool:
    if a.key == b.key:
        return True
    try:
        return os.path.samefile(a.path, b.path)
    except OSError:
        return False


def _stamp(path: Path) -> tuple[str, str]:
    try:
        st = path.stat()
    except OSError:
        return str(path), "?"
    return str(path), f"{st.st_size}:{st.st_mtime_ns}"

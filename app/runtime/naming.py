"""Which model a name means, and whether one model can draft for another.

Names are library keys, names, file names or paths (the bundled model also answers to its
aliases). Pairs are answered from the library's cached compatibility index (compatible,
drafts through translation, or not), never by reading headers per request; models outside
every library folder (the CLI takes any path) are read once and remembered by path, size and
mtime. A model never drafts for itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import DraftIncompatibleError
from app.library.compat_index import CompatibilityIndex
from app.library.draft_rules import DraftCompatibility, check_draft, engine_of
from app.library.entry import ModelEntry
from app.library.library import ModelLibrary
from app.runtime.drafts import DraftPlan, resolve_draft_spec
from app.runtime.errors import SelfDraftError, UnknownModelError
from app.runtime.model_ref import ModelRef

SELF_DRAFT = "a model cannot draft for itself (main and draft would share one cache)"


class ModelNames:
    def __init__(self, library: ModelLibrary, index: CompatibilityIndex) -> None:
        self.library = library
        self.index = index
        self._path_verdicts: dict[tuple[str, ...], DraftCompatibility] = {}

    def resolve(self, spec: str) -> ModelRef:
        """A model by library key, name, file name or path (the bundled model by its aliases)."""
        entry = self.library.entries.get(spec)
        if entry is None:
            from app.library.resolve import BUNDLED_ALIASES, resolve_model

            path: Path | None = None
            if spec.lower() in BUNDLED_ALIASES:
                path = resolve_model(spec, self.library).path
            elif Path(spec).expanduser().exists():
                path = Path(spec).expanduser().resolve()
            entry = self.library.find(str(path) if path is not None else spec)
            if entry is None and path is not None:
                return ModelRef(str(path), path, engine_of(path), path.name)
        if entry is None:
            if spec.lower().endswith(".gguf") or spec.startswith(("/", "~", ".")):
                raise UnknownModelError(f"model file not found: {spec}")
            raise UnknownModelError(f"no model named {spec!r} in the library (see the models list)")
        return entry_ref(entry)

    def resolve_draft(self, spec: str | None) -> DraftPlan:
        return resolve_draft_spec(spec, self.resolve)

    def check_pair(self, main: ModelRef, draft: ModelRef) -> DraftCompatibility:
        """Can `draft` draft for `main` (exactly, or through translation: `.usable`)? With a
        reason a person can act on."""
        if is_same_model(main, draft):
            return DraftCompatibility(False, SELF_DRAFT)
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


def entry_ref(entry: ModelEntry) -> ModelRef:
    return ModelRef(entry.key, Path(entry.path), entry.engine, entry.name)


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

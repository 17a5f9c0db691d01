"""Which models can draft for a main model, smallest first, and why the others cannot.

Verdicts are cached on disk keyed by both files' path, size and mtime, so the draft dropdown
fills at once on the next start, and a changed file is checked again (no stale verdict). The
index is shared by threads (the chat, the server's requests, the advisor): one lock guards it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from app.library.atomic import read_cache, write_json_atomic
from app.library.draft_rules import check_vocab_pair, engine_mismatch
from app.library.entry import MLX, ModelEntry
from app.library.library import ModelLibrary
from app.library.paths import cache_dir

log = logging.getLogger(__name__)

CACHE_SCHEMA = 1
SMALL_MAIN_PARAMS = 3.5e9  # LM Studio's guide: a 3B main model has no useful draft
MIN_SIZE_RATIO = 4.5  # 7B -> 1B, 14B -> 3B, 32B -> 7B


@dataclass
class DraftOption:
    entry: ModelEntry
    recommended: bool
    note: str


@dataclass
class DraftReport:
    main: ModelEntry
    compatible: list[DraftOption] = field(default_factory=list)
    incompatible: list[tuple[ModelEntry, str]] = field(default_factory=list)
    advice: str = ""


def recommendation(main_params: int, draft_params: int) -> tuple[bool, str]:
    if draft_params >= main_params:
        return False, "not smaller than the main model: it cannot speed it up"
    ratio = main_params / max(draft_params, 1)
    if main_params <= SMALL_MAIN_PARAMS:
        return False, f"{ratio:.1f}x smaller; the main model is small (3B or less), so gains are unlikely"
    if ratio >= MIN_SIZE_RATIO:
        return True, f"{ratio:.1f}x smaller: recommended"
    return False, f"only {ratio:.1f}x smaller: likely too large to speed things up"


def _is_verdict(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], str)


class CompatibilityIndex:
    def __init__(self, library: ModelLibrary, path: Path | None = None) -> None:
        self.library = library
        self.path = path or cache_dir() / "draft-compatibility.json"
        self._verdicts: dict[str, list] = read_cache(self.path, CACHE_SCHEMA, "pairs", valid=_is_verdict)
        self._dirty = False
        self._lock = threading.RLock()

    def _pair_key(self, main: ModelEntry, draft: ModelEntry) -> str:
        return (
            f"{main.path}#{self.library.signature(main.key)}>{draft.path}#{self.library.signature(draft.key)}"
        )

    def verdict(self, main: ModelEntry, draft: ModelEntry) -> tuple[bool, str]:
        key = self._pair_key(main, draft)
        with self._lock:
            hit = self._verdicts.get(key)
        if hit is not None:
            return bool(hit[0]), str(hit[1])
        mismatch = engine_mismatch(main.engine, draft.engine)
        result = (
            mismatch
            if mismatch is not None
            else check_vocab_pair(main.vocab, draft.vocab, exact_size=main.engine == MLX)
        )
        with self._lock:
            self._verdicts[key] = [result.compatible, result.reason]
            self._dirty = True
        return result.compatible, result.reason

    def drafts_for(self, main_key: str) -> DraftReport:
        main = self.library.entries[main_key]
        report = DraftReport(main)
        for entry in self.library.entries.values():
            if entry.key == main_key:
                continue
            ok, reason = self.verdict(main, entry)
            if ok:
                rec, note = recommendation(main.parameter_count, entry.parameter_count)
                report.compatible.append(DraftOption(entry, rec, note))
            else:
                report.incompatible.append((entry, reason))
        report.compatible.sort(key=lambda o: (o.entry.parameter_count, o.entry.size_bytes, o.entry.key))
        report.incompatible.sort(key=lambda pair: pair[0].key)
        if not report.compatible:
            report.advice = "No compatible draft models found: try a smaller model of the same family."
        elif main.parameter_count <= SMALL_MAIN_PARAMS:
            report.advice = "This main model is small; speculative decoding rarely speeds it up."
        self.save()
        return report

    def save(self) -> None:
        with self._lock:
            if not self._dirty:
                return
            live = {e.path for e in self.library.entries.values()}
            self._verdicts = {
                k: v
                for k, v in self._verdicts.items()
                if k.split("#", 1)[0] in live and k.split(">", 1)[1].split("#", 1)[0] in live
            }
            try:
                write_json_atomic(self.path, {"schema": CACHE_SCHEMA, "pairs": self._verdicts})
            except OSError as exc:
                log.warning("could not write the compatibility cache: %s", exc)
            self._dirty = False

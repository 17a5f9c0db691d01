"""Which models can draft for a main model, smallest first, and why the others cannot.

Verdicts are cached on disk keyed by both files' path, size and mtime, so the draft dropdown
fills at once on the next start, and a changed file is checked again (no stale verdict). The
index is shared by threads (the chat, the server's requests, the advisor): one lock guards it.

Three verdicts: compatible (token ids shared), drafts through translation (another tokenizer
on the same engine: usable, listed after the exact matches, with the share of shared token
texts), and not compatible.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.library.atomic import read_cache, write_json_atomic
from app.library.draft_rules import DraftCompatibility, check_vocab_pair, engine_mismatch, translation_verdict
from app.library.entry import MLX, ModelEntry
from app.library.library import ModelLibrary
from app.library.paths import cache_dir
from app.library.server_listing import ServerError, ServerKind, kind_of, specula_drafts
from app.library.vocab import VocabSummary

log = logging.getLogger(__name__)

CACHE_SCHEMA = 2  # 2: verdicts carry "drafts through translation" and its share
SMALL_MAIN_PARAMS = 3.5e9  # LM Studio's guide: a 3B main model has no useful draft
MIN_SIZE_RATIO = 4.5  # 7B -> 1B, 14B -> 3B, 32B -> 7B


@dataclass
class DraftOption:
    entry: ModelEntry
    recommended: bool
    note: str
    translated: bool = False  # drafts through translation (another tokenizer)
    share: float | None = None  # of the draft's token texts the main model has (translated only)
    reason: str = ""  # why it drafts through translation


TRANSLATED_BADGE = "≈"  # shown next to a draft that works through translation

# what the draft dropdown says for a model on a server that does not take a draft per request
SERVER_DRAFTS = {
    ServerKind.LLAMA_CPP: "llama-server drafts with the model it was started with (-md); "
    "its replies say how many draft tokens it accepted.",
    ServerKind.VLLM: "vLLM drafts as it was started (--speculative-config); with "
    "--per-request-spec-decode-metrics its replies say what the draft did.",
    ServerKind.SGLANG: "SGLang drafts as it was started (--speculative-algorithm); its replies say "
    "what the draft did.",
    ServerKind.OPENAI: "This server takes no draft model per request, and reports no speculation.",
}


@dataclass
class DraftReport:
    main: ModelEntry
    # usable drafts: exact matches first, then the ones that draft through translation
    compatible: list[DraftOption] = field(default_factory=list)
    incompatible: list[tuple[ModelEntry, str]] = field(default_factory=list)
    advice: str = ""
    prompt_lookup: bool = True  # whether prompt lookup can draft for it (not on most servers)


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
    return isinstance(value, list) and len(value) == 4 and isinstance(value[1], str)


TOKEN_MEMO = 4  # vocabularies whose token texts are kept while verdicts are computed


class CompatibilityIndex:
    def __init__(self, library: ModelLibrary, path: Path | None = None) -> None:
        self.library = library
        self.path = path or cache_dir() / "draft-compatibility.json"
        self._verdicts: dict[str, list] = read_cache(self.path, CACHE_SCHEMA, "pairs", valid=_is_verdict)
        self._dirty = False
        self._lock = threading.RLock()
        self._tokens: OrderedDict[str, list[bytes]] = OrderedDict()

    def _pair_key(self, main: ModelEntry, draft: ModelEntry) -> str:
        return (
            f"{main.path}#{self.library.signature(main.key)}>{draft.path}#{self.library.signature(draft.key)}"
        )

    def _vocab(self, entry: ModelEntry) -> VocabSummary:
        """The entry's vocabulary, its token texts read once for several verdicts."""
        vocab = entry.vocab
        memo_key = f"{entry.path}#{self.library.signature(entry.key)}"

        def tokens() -> list[bytes]:
            with self._lock:
                hit = self._tokens.get(memo_key)
            if hit is None:
                hit = vocab.tokens()
                with self._lock:
                    self._tokens[memo_key] = hit
                    while len(self._tokens) > TOKEN_MEMO:
                        self._tokens.popitem(last=False)
            return hit

        return replace(vocab, load_tokens=tokens)

    def verdict(self, main: ModelEntry, draft: ModelEntry) -> DraftCompatibility:
        key = self._pair_key(main, draft)
        with self._lock:
            hit = self._verdicts.get(key)
        if hit is not None:
            return DraftCompatibility(bool(hit[0]), str(hit[1]), bool(hit[2]), hit[3])
        mismatch = engine_mismatch(main.engine, draft.engine)
        if mismatch is not None:
            result = mismatch
        else:
            m, d = self._vocab(main), self._vocab(draft)
            result = translation_verdict(m, d, check_vocab_pair(m, d, exact_size=main.engine == MLX))
        with self._lock:
            self._verdicts[key] = [result.compatible, result.reason, result.translated, result.share]
            self._dirty = True
        return result

    def drafts_for(self, main_key: str) -> DraftReport:
        main = self.library.entries.get(main_key) or self.library.remote_entries[main_key]
        if main.is_remote:
            return self._server_drafts(main)
        report = DraftReport(main)
        for entry in self.library.entries.values():
            if entry.key == main_key:
                continue
            verdict = self.verdict(main, entry)
            if verdict.usable:
                rec, note = recommendation(main.parameter_count, entry.parameter_count)
                if verdict.translated:
                    note = f"{note}; drafts through translation ({verdict.share or 0:.0%} shared tokens)"
                report.compatible.append(
                    DraftOption(entry, rec, note, verdict.translated, verdict.share, verdict.reason)
                )
            else:
                report.incompatible.append((entry, verdict.reason))
        report.compatible.sort(
            key=lambda o: (o.translated, o.entry.parameter_count, o.entry.size_bytes, o.entry.key)
        )
        report.incompatible.sort(key=lambda pair: pair[0].key)
        if not report.compatible:
            report.advice = "No compatible draft models found: try a smaller model of the same family."
        elif all(o.translated for o in report.compatible):
            report.advice = (
                "No draft shares this model's tokenizer; the ones listed draft through translation "
                "(the reply is unchanged, the speed-up usually smaller)."
            )
        elif main.parameter_count <= SMALL_MAIN_PARAMS:
            report.advice = "This main model is small; speculative decoding rarely speeds it up."
        self.save()
        return report

    def _server_drafts(self, main: ModelEntry) -> DraftReport:
        """A model on a server drafts with what that server offers: another Specula says which
        of its models can draft for it (and takes prompt lookup); other servers draft with what
        they were started with, or not at all, and say so only in their replies."""
        assert main.remote is not None
        report = DraftReport(main, prompt_lookup=False)
        kind = kind_of(main.remote.kind)
        if kind is not ServerKind.SPECULA:
            report.advice = SERVER_DRAFTS[kind]
            return report
        try:
            offered = specula_drafts(main.remote, self.library.server_timeout)
        except Exception as exc:  # the dropdown says why it is empty
            text = str(exc) if isinstance(exc, ServerError) else f"{type(exc).__name__}: {exc}"
            report.advice = f"{main.remote.server} did not say which drafts it has: {text}"
            return report
        report.prompt_lookup = True
        same_server = {
            e.remote.model_id: e
            for e in self.library.remote_entries.values()
            if e.remote is not None and e.remote.server == main.remote.server
        }
        for draft in offered:
            entry = same_server.get(draft.model_id)
            if entry is not None and entry.key != main.key:
                report.compatible.append(
                    DraftOption(
                        entry, draft.recommended, draft.note or "offered by the server", draft.translated
                    )
                )
        listed = {o.entry.key for o in report.compatible}
        report.incompatible = sorted(
            (
                (e, f"{main.remote.server} does not offer it as a draft for this model")
                for e in same_server.values()
                if e.key not in listed and e.key != main.key
            ),
            key=lambda pair: pair[0].key,
        )
        if not report.compatible:
            report.advice = (
                f"{main.remote.server} has no draft model for this model (prompt lookup still works)."
            )
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

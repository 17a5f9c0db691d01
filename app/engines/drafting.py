"""Where draft tokens come from.

- ModelDraft: a small model proposes tokens drawn from its own distribution q under the
  reply's sampler settings (its argmax at temperature 0), each with q kept for the main
  model's speculative-sampling check. Its cache is synced lazily, so a round that drafts
  nothing costs nothing; a draft whose context is full says so and drafting stops.
- PromptLookupDraft: no second model; proposes what followed the latest earlier occurrence of
  the text's last few tokens (prompt and reply so far). Pays off when replies repeat their
  input: editing code, quoting, summarising. Its proposals are deterministic (q is all on the
  proposed token), which speculative sampling handles exactly too.
- ChainedDraft ("<draft> + prompt lookup"): prompt lookup first, the draft model when lookup
  has nothing, in one round.

A DraftRule decides, token by token, whether a proposal is worth sending: the fixed
"Drafting Probability Cutoff", or Auto's learned rule (app/engines/auto_draft.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from app.core.errors import ContextOverflowError
from app.engines.sampling import TokenDistribution, TokenSampler

PROMPT_LOOKUP_KEY = "prompt-lookup"
PROMPT_LOOKUP_NAME = "Prompt lookup (no draft model)"
CHAINED_SEPARATOR = "+"


def chained_key(draft_key: str) -> str:
    """The draft-spec key of "<draft> + prompt lookup" (settings, dropdowns, the API)."""
    return f"{draft_key}{CHAINED_SEPARATOR}{PROMPT_LOOKUP_KEY}"


def parse_draft_key(spec: str | None) -> tuple[str | None, bool]:
    """(draft model key or None, with prompt lookup) for a draft spec: "", a model key,
    PROMPT_LOOKUP_KEY, or chained_key(model key)."""
    if not spec:
        return None, False
    if spec == PROMPT_LOOKUP_KEY:
        return None, True
    suffix = CHAINED_SEPARATOR + PROMPT_LOOKUP_KEY
    if spec.endswith(suffix) and len(spec) > len(suffix):
        return spec[: -len(suffix)], True
    return spec, False


def chained_name(draft_name: str) -> str:
    return f"{draft_name} + prompt lookup"


class DraftContextFull(ContextOverflowError):
    """The draft model cannot take more tokens: drafting stops, the reply goes on plain."""


class DraftModel(Protocol):
    n_ctx: int

    @property
    def name(self) -> str: ...
    @property
    def n_cached(self) -> int: ...
    def prefill(self, tokens: Sequence[int]) -> None: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def logits(self, row: int) -> np.ndarray: ...
    def is_eog(self, token: int) -> bool: ...


class DraftRule(Protocol):
    """Whether the draft's next token is worth sending to the main model."""

    @property
    def needs_confidence(self) -> bool: ...

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:
        """`position` counts from 1 in this round; `confidence` is the draft's top-token
        probability (NaN for prompt lookup); `model_step`: proposing it costs a draft step."""
        ...


class CutoffRule:
    """The fixed Drafting Probability Cutoff: stop when the draft's top token is less likely
    than p_min (prompt lookup has no probabilities and is never cut)."""

    def __init__(self, p_min: float) -> None:
        self.p_min = p_min
        self.model_allowed = True

    @property
    def needs_confidence(self) -> bool:
        return self.p_min > 0.0

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:
        return math.isnan(confidence) or confidence >= self.p_min


@dataclass
class Proposal:
    """One round's draft: tokens, the distribution each was drawn from (None: proposed
    deterministically), the draft's confidence per token, and what proposing cost."""

    tokens: list[int] = field(default_factory=list)
    dists: list[TokenDistribution | None] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    from_model: bool = False
    steps: int = 0  # draft model evaluations (catch-up included)
    seconds: float = 0.0  # time proposing, catch-up excluded
    catch_up: float = 0.0  # seconds syncing a draft that skipped rounds
    note: str = ""  # set when part of a chained source stopped for good (shown to the user)


class DraftSource(Protocol):
    name: str

    @property
    def identity(self) -> str:
        """What Auto's memory is keyed on (a model file's path, size and mtime)."""
        ...

    def warm(self, sequence: Sequence[int]) -> None: ...
    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal: ...


def file_identity(path: str | Path | None) -> str | None:
    """Path, size and modification time: changes whenever the file (or folder) does."""
    if path is None:
        return None
    p = Path(path)
    try:
        if p.is_dir():
            stats = [f.stat() for f in sorted(p.iterdir()) if f.is_file()]
            size = sum(s.st_size for s in stats)
            mtime = max((s.st_mtime_ns for s in stats), default=0)
        else:
            st = p.stat()
            size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        return None
    return f"{p.resolve()}|{size}|{mtime}"


def push_window(window: list[int], token: int, limit: int) -> None:
    """Append to a repeat-penalty window, keeping its last `limit` tokens."""
    if limit <= 0:
        return
    window.append(token)
    if len(window) > limit:
        del window[0]


class ModelDraft:
    def __init__(self, model: DraftModel) -> None:
        self.model = model
        self.name = model.name

    @property
    def identity(self) -> str:
        return file_identity(getattr(self.model, "path", None)) or f"model:{self.name}"

    def full_note(self, n_tokens: int) -> str:
        return (
            f"The draft's context ({self.model.n_ctx} tokens) is full at {n_tokens} tokens: "
            "the rest of the reply was generated without it."
        )

    def warm(self, sequence: Sequence[int]) -> None:
        if len(sequence) > self.model.n_ctx:
            raise DraftContextFull(
                f"The prompt ({len(sequence)} tokens) does not fit the draft's context "
                f"({self.model.n_ctx} tokens): the reply was generated without the draft."
            )
        self.model.prefill(sequence)

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        """Up to `budget` tokens continuing `sequence`, while `rule` keeps them."""
        model = self.model
        room = model.n_ctx - len(sequence) + 1  # the last proposal is never evaluated
        if room < 1:
            raise DraftContextFull(self.full_note(len(sequence)))
        budget = min(budget, room)
        out = Proposal(from_model=True)
        behind = len(sequence) - model.n_cached
        t0 = time.perf_counter()
        try:
            model.prefill(sequence)
        except ContextOverflowError:
            raise DraftContextFull(self.full_note(len(sequence))) from None
        t1 = time.perf_counter()
        if behind > 3:  # ingesting more than a round's usual 1-2 new tokens: skipped rounds
            out.catch_up = t1 - t0
            t0 = t1
        out.steps = 1
        window = list(sampler.window(sequence))
        confidence = rule.needs_confidence
        while len(out.tokens) < budget:
            q = sampler.distribution(model.logits(0), window, confidence)
            if not rule.keep(len(out.tokens) + 1, q.confidence, True):
                break
            token = sampler.sample(q)
            out.tokens.append(token)
            out.dists.append(q)
            out.confidences.append(q.confidence)
            if len(out.tokens) == budget or model.is_eog(token):
                break
            push_window(window, token, sampler.window_size)
            model.eval([token], 1)
            out.steps += 1
        out.seconds = time.perf_counter() - t0
        return out


class PromptLookupDraft:
    name = PROMPT_LOOKUP_NAME
    identity = PROMPT_LOOKUP_KEY

    def __init__(self, max_ngram: int = 4, min_ngram: int = 2) -> None:
        self.max_ngram, self.min_ngram = max_ngram, min_ngram
        self._seq: list[int] = []
        # n -> n-gram -> latest start index that has at least one token after it
        self._index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in range(min_ngram, max_ngram + 1)}

    def warm(self, sequence: Sequence[int]) -> None:
        self._sync(sequence)

    def _sync(self, sequence: Sequence[int]) -> None:
        if len(sequence) < len(self._seq) or list(sequence[: len(self._seq)]) != self._seq:
            self._seq = []
            self._index = {n: {} for n in self._index}
        old = len(self._seq)
        self._seq = list(sequence)
        for n, table in self._index.items():
            # an n-gram starting at i is usable once a token follows it: i + n < len
            for i in range(max(0, old - n), len(self._seq) - n):
                table[tuple(self._seq[i : i + n])] = i

    def lookup(self, sequence: Sequence[int], budget: int) -> list[int]:
        """What followed the latest earlier occurrence of the longest matching suffix."""
        self._sync(sequence)
        seq = self._seq
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(seq) <= n:
                continue
            start = self._index[n].get(tuple(seq[-n:]))
            if start is not None and start + n < len(seq):
                return seq[start + n : start + n + budget]
        return []

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        out = Proposal()
        for i, token in enumerate(self.lookup(sequence, budget)):
            if not rule.keep(i + 1, math.nan, False):
                break
            out.tokens.append(token)
            out.dists.append(None)
            out.confidences.append(math.nan)
        return out


class ChainedDraft:
    """Prompt lookup first; the draft model only when lookup has nothing. When the model's
    context fills up, lookup carries on alone (and says so once)."""

    def __init__(self, model: DraftModel | DraftSource, lookup: PromptLookupDraft | None = None) -> None:
        # a draft model, or a source driving one (a draft with another tokenizer, translated)
        self.draft: DraftSource = model if hasattr(model, "propose") else ModelDraft(model)  # type: ignore[assignment]
        self.lookup = lookup or PromptLookupDraft()
        self.name = chained_name(self.draft.name)
        self.model = getattr(self.draft, "model", model)
        self._model_ok = True
        self._note = ""

    @property
    def identity(self) -> str:
        return chained_key(self.draft.identity)

    def warm(self, sequence: Sequence[int]) -> None:
        self.lookup.warm(sequence)
        try:
            self.draft.warm(sequence)
        except DraftContextFull as exc:
            self._model_gone(str(exc))

    def _model_gone(self, why: str) -> None:
        self._model_ok = False
        self._note = f"{why} Prompt lookup went on drafting."

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        out = self.lookup.propose(sequence, budget, sampler, rule)
        if not out.tokens and self._model_ok and getattr(rule, "model_allowed", True):
            try:
                out = self.draft.propose(sequence, budget, sampler, rule)
            except DraftContextFull as exc:
                self._model_gone(str(exc))
        out.note, self._note = self._note, ""
        return out


def as_draft_source(draft: object | None) -> DraftSource | None:
    """A loaded model becomes a ModelDraft; a draft source (anything with `propose`) is used
    as it is; None is no draft."""
    if draft is None or hasattr(draft, "propose"):
        return draft  # type: ignore[return-value]
    return ModelDraft(draft)  # type: ignore[arg-type]


def draft_model_of(draft: object | None) -> object | None:
    """The model behind a draft argument (for compatibility checks); None for prompt lookup."""
    if draft is None or not hasattr(draft, "propose"):
        return draft
    return getattr(draft, "model", None)

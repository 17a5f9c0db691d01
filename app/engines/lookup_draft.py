"""Drafts that cost no model: prompt lookup, and prompt lookup chained in front of a draft
model (what each proposes: app/engines/drafting.py's overview)."""

from __future__ import annotations

from collections.abc import Sequence

from app.engines.drafting import (
    FREE,
    PROMPT_LOOKUP_KEY,
    PROMPT_LOOKUP_NAME,
    CancelFlag,
    DraftContextFull,
    DraftModel,
    DraftRule,
    DraftSource,
    Proposal,
    chained_key,
    chained_name,
    combined,
    deterministic,
)
from app.engines.sampling import TokenSampler


class PromptLookupDraft:
    """No second model: what followed the latest earlier occurrence of the last few tokens.

    Within a reply the sequence only grows (the loop appends to it; `warm` starts a reply), so
    each round indexes only its new tokens. Each proposal says how strong its match is (the
    n-gram's length, and whether the reply took the previous proposal whole: a reply that is
    copying its input goes on copying), for Auto to learn from."""

    name = PROMPT_LOOKUP_NAME
    identity = PROMPT_LOOKUP_KEY
    capabilities = FREE
    model = None
    translates_for = None
    FOLLOWING = 3  # added to the clue while the reply follows the lookup's proposals

    def __init__(self, max_ngram: int = 4, min_ngram: int = 2) -> None:
        self.max_ngram, self.min_ngram = max_ngram, min_ngram
        self._reset()

    def _reset(self) -> None:
        self._seq: list[int] = []
        # n -> n-gram -> latest start index that has at least one token after it
        self._index: dict[int, dict[tuple[int, ...], int]] = {
            n: {} for n in range(self.min_ngram, self.max_ngram + 1)
        }
        self._sent: tuple[int, list[int]] = (0, [])  # the last proposal: where, what

    def warm(
        self,
        sequence: Sequence[int],
        cancel: CancelFlag | None = None,  # noqa: ARG002 (the interface's signature)
        *,
        model: bool = True,  # noqa: ARG002 (the interface's signature)
    ) -> None:
        self._reset()
        self._sync(sequence)

    def _sync(self, sequence: Sequence[int]) -> None:
        """Index the tokens the sequence gained since the last call (another sequence: anew)."""
        old = len(self._seq)
        if len(sequence) < old or (old and sequence[old - 1] != self._seq[-1]):
            self._reset()
            old = 0
        if len(sequence) == old:
            return
        self._seq.extend(sequence[old:])
        seq = self._seq
        for n, table in self._index.items():
            # an n-gram starting at i is usable once a token follows it: i + n < len
            for i in range(max(0, old - n), len(seq) - n):
                table[tuple(seq[i : i + n])] = i

    def _match(self, sequence: Sequence[int], budget: int) -> tuple[list[int], int]:
        """What followed the latest earlier occurrence of the longest matching suffix, and
        that suffix's length (0: none)."""
        self._sync(sequence)
        seq = self._seq
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(seq) <= n:
                continue
            start = self._index[n].get(tuple(seq[-n:]))
            if start is not None and start + n < len(seq):
                return seq[start + n : start + n + budget], n
        return [], 0

    def lookup(self, sequence: Sequence[int], budget: int) -> list[int]:
        """What followed the latest earlier occurrence of the longest matching suffix."""
        return self._match(sequence, budget)[0]

    def _following(self) -> bool:
        """Whether the reply took the last proposal whole."""
        at, sent = self._sent
        return bool(sent) and self._seq[at : at + len(sent)] == sent

    def propose(
        self,
        sequence: Sequence[int],
        budget: int,
        sampler: TokenSampler,  # noqa: ARG002 (the interface's signature)
        rule: DraftRule,
    ) -> Proposal:
        tokens, n = self._match(sequence, budget)
        clue = n - self.min_ngram + 1 + (self.FOLLOWING if self._following() else 0) if n else 0
        out = deterministic(tokens, rule, clue)
        self._sent = (len(self._seq), out.tokens)
        return out


class ChainedDraft:
    """Prompt lookup first; the draft model only when lookup has nothing. When the model's
    context fills up, lookup carries on alone for the rest of the reply (and says so once)."""

    def __init__(self, draft: DraftSource, lookup: PromptLookupDraft | None = None) -> None:
        self.draft = draft  # a draft model's source (its own ids, or translated)
        self.lookup = lookup or PromptLookupDraft()
        self.name = chained_name(draft.name)
        self.capabilities = combined(draft.capabilities)
        self._model_ok = True
        self._note = ""

    @property
    def identity(self) -> str:
        return chained_key(self.draft.identity)

    @property
    def model(self) -> DraftModel | None:
        return self.draft.model

    @property
    def translates_for(self) -> object | None:
        return self.draft.translates_for

    def warm(self, sequence: Sequence[int], cancel: CancelFlag | None = None, *, model: bool = True) -> None:
        self._model_ok, self._note = True, ""
        self.lookup.warm(sequence)
        try:
            self.draft.warm(sequence, cancel, model=model)
        except DraftContextFull as exc:
            self._model_gone(str(exc))

    def _model_gone(self, why: str) -> None:
        self._model_ok = False
        self._note = f"{why} Prompt lookup went on drafting."

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        out = self.lookup.propose(sequence, budget, sampler, rule)
        if not out.tokens and self._model_ok and rule.model_allowed:
            try:
                out = self.draft.propose(sequence, budget, sampler, rule)
            except DraftContextFull as exc:
                self._model_gone(str(exc))
        out.note, self._note = self._note, ""
        return out

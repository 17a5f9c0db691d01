"""Predicted Outputs: text the caller expects in the reply drafts for it.

OpenAI's `"prediction": {"type": "content", "content": "..."}` carries most of the reply in
advance (a file to edit, a document to correct). Its tokens are a draft like prompt lookup's:
while the reply follows the prediction the next predicted tokens are proposed; when it departs
(an edit), the reply's last few tokens are looked up in the prediction (nearest to where the
reply left it first), so the rest is picked up again after the edit. Drafts are verified like
any other, so the reply is exactly the main model's and accepted tokens count and colour as
draft tokens. Where the prediction has nothing to offer, an optional fallback source (the
request's draft model or prompt lookup, the lease's source as it is) drafts instead. A draft
model Auto pauses leaves the prediction drafting alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from app.engines.drafting import (
    FREE,
    CancelFlag,
    DraftModel,
    DraftRule,
    DraftSource,
    Proposal,
    combined,
    deterministic,
)
from app.engines.sampling import TokenSampler

PREDICTION_NAME = "Predicted output"
PREDICTION_KEY = "prediction"
NEAR = 16  # a one-token match only counts this close to where the reply left the prediction
FOLLOWING = 6  # the clue of a proposal the reply is following (realigned: the n-gram's length)


class PredictionDraft:
    def __init__(
        self, predicted: Sequence[int], fallback: DraftSource | None = None, max_ngram: int = 4
    ) -> None:
        self.predicted = list(predicted)
        self.fallback = fallback
        self.name = PREDICTION_NAME if fallback is None else f"{PREDICTION_NAME} + {fallback.name}"
        self.capabilities = FREE if fallback is None else combined(fallback.capabilities)
        self.max_ngram = max_ngram
        # n -> n-gram -> every start index in the prediction, ascending
        self._index: dict[int, dict[tuple[int, ...], list[int]]] = {}
        for n in range(1, max_ngram + 1):
            table: dict[tuple[int, ...], list[int]] = {}
            for i in range(len(self.predicted) - n + 1):
                table.setdefault(tuple(self.predicted[i : i + n]), []).append(i)
            self._index[n] = table
        self._start = 0  # where the reply begins in the sequence (after the prompt)
        self._seen = 0  # how much of the sequence has been followed
        self._reply: list[int] = []  # the reply's tokens followed so far (sequence[_start:_seen])
        self._pos: int | None = 0  # the prediction's next token, while the reply follows it
        self._anchor = 0  # where the reply last followed the prediction
        self._clue = FOLLOWING  # how strong the match is (drafting.free_confidence)

    @property
    def identity(self) -> str:
        """Auto learns per source: a prediction's acceptance says nothing of the next one's,
        but its costs (no model) and a fallback's are stable."""
        if self.fallback is None:
            return PREDICTION_KEY
        return f"{PREDICTION_KEY}+{self.fallback.identity}"

    @property
    def model(self) -> DraftModel | None:
        """The fallback's draft model, if any."""
        return self.fallback.model if self.fallback is not None else None

    @property
    def translates_for(self) -> object | None:
        return self.fallback.translates_for if self.fallback is not None else None

    def warm(self, sequence: Sequence[int], cancel: CancelFlag | None = None, *, model: bool = True) -> None:
        self._start = self._seen = len(sequence)
        self._reply = []
        self._pos, self._anchor = 0, 0
        if self.fallback is not None:
            self.fallback.warm(sequence, cancel, model=model)

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        """The prediction's next tokens (proposed deterministically, like prompt lookup's),
        else the fallback's proposal."""
        self._follow(sequence)
        out = Proposal()
        if self._pos is not None:
            out = deterministic(self.predicted[self._pos : self._pos + budget], rule, self._clue)
        if not out.tokens and self.fallback is not None:
            out = self.fallback.propose(sequence, budget, sampler, rule)
        return out

    def _follow(self, sequence: Sequence[int]) -> None:
        """Advance through the reply's new tokens; realign on the prediction when it departs."""
        if not self._continued_by(sequence):
            self._relocate(sequence)
        self._reply.extend(sequence[self._seen :])
        for token in sequence[self._seen :]:
            pos = self._pos
            if pos is not None and pos < len(self.predicted) and self.predicted[pos] == token:
                self._pos = self._anchor = pos + 1
            else:
                self._pos = None
        self._seen = len(sequence)
        self._clue = FOLLOWING
        if self._pos is None:
            self._pos = self._realign(sequence[self._start :])

    def _continued_by(self, sequence: Sequence[int]) -> bool:
        """Whether `sequence` still holds the reply followed so far where it was (its ends
        checked: the prompt before it changes only when earlier turns are left out)."""
        if len(sequence) < self._seen:
            return False
        reply, start = self._reply, self._start
        head, tail = sequence[start : start + 4], sequence[max(start, self._seen - 4) : self._seen]
        return not reply or (list(head) == reply[:4] and list(tail) == reply[-4:])

    def _relocate(self, sequence: Sequence[int]) -> None:
        """Earlier turns were left out of the prompt (app/engines/reply_context.py): find the
        reply followed so far, moved back; where it is not found, start over."""
        reply, n = self._reply, len(self._reply)
        for at in range(len(sequence) - n, -1, -1):
            if list(sequence[at : at + n]) == reply:
                self._start, self._seen = at, at + n
                return
        self._start = self._seen = min(self._start, len(sequence))
        self._reply, self._pos, self._anchor = [], 0, 0

    def _realign(self, reply: Sequence[int]) -> int | None:
        """Where the prediction continues the reply's last tokens: the longest n-gram match,
        the first occurrence at or after the anchor, else the last one before it."""
        for n in range(min(self.max_ngram, len(reply)), 0, -1):
            starts = self._index[n].get(tuple(reply[-n:]))
            if not starts:
                continue
            i = bisect.bisect_left(starts, self._anchor - n)
            start = starts[i] if i < len(starts) else starts[-1]
            if n == 1 and abs(start - self._anchor) > NEAR:
                continue  # one token alone is too weak a clue far from where we were
            end = start + n
            if end < len(self.predicted):
                self._anchor, self._clue = end, n
                return end
        return None

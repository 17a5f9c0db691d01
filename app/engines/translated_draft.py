"""A draft model with another tokenizer: it drafts through translation, losslessly.

The draft keeps its own token sequence for the text the main model has accepted. Each round it
proposes tokens in its own vocabulary; their text (cut to whole characters) is tokenized by the
main model's tokenizer, re-tokenizing a few accepted tokens at the seam and keeping only what
follows them, and those main-model ids are proposed deterministically (q all on the proposed
token: speculative sampling then reduces to sample-and-compare, which is exact). After the main
model verifies them, the draft's text is rolled back to what the main model accepted (again
re-tokenized at the seam) and its cache reused up to the first token that changed. Every
emitted token is the main model's own choice; greedy text equals plain decoding exactly, and
the tokens that came from the draft's proposal are marked as drafted, as with any draft.

Fast path: when the two vocabularies are one vocabulary with its ids shuffled (every token
text on both sides, the same tokenizer, and both tokenize a probe text alike), ids are mapped
one to one through a table built once per pair of loaded models, with the draft's own
distribution carried over, so speculative sampling keeps its full acceptance.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from app.engines.drafting import (
    MODEL,
    CancelFlag,
    DraftModel,
    DraftRule,
    ModelDraft,
    Proposal,
    model_identity,
)
from app.engines.retokenize import TokenCodec, Tokenizer, utf8_complete, whole_chars
from app.engines.sampling import TokenDistribution, TokenSampler
from app.library.vocab import VocabSummary


class ModelInfo(Protocol):
    @property
    def vocab(self) -> VocabSummary: ...


class TextModel(DraftModel, Tokenizer, Protocol):
    """A loaded model with its tokenizer (llama.cpp or MLX)."""

    @property
    def info(self) -> ModelInfo: ...


PROBE_TEXT = "The quick brown fox, 42 times: naïve café – 東京 🙂\n\tdef f(x): return x"


class TokenMap:
    """draft id -> main id (and back) for vocabularies that hold the same token texts."""

    def __init__(self, to_main: np.ndarray, to_draft: np.ndarray) -> None:
        self.to_main, self.to_draft = to_main, to_draft

    @classmethod
    def build(cls, main_tokens: Sequence[bytes], draft_tokens: Sequence[bytes]) -> TokenMap | None:
        """The map when the draft's vocabulary is the main one's reordered, else None."""
        if len(main_tokens) != len(draft_tokens) or not main_tokens:
            return None
        where = {text: i for i, text in enumerate(main_tokens)}
        if len(where) != len(main_tokens):
            return None  # duplicate texts: no one-to-one map
        to_main = np.fromiter((where.get(t, -1) for t in draft_tokens), np.int64, len(draft_tokens))
        if (to_main < 0).any():
            return None
        to_draft = np.empty_like(to_main)
        to_draft[to_main] = np.arange(len(to_main))
        return cls(to_main, to_draft)


# main model -> draft model -> map (None: no one-to-one map); entries vanish with the models
_maps: weakref.WeakKeyDictionary[object, weakref.WeakKeyDictionary[object, TokenMap | None]] = (
    weakref.WeakKeyDictionary()
)


def token_map(
    main: TextModel, draft: TextModel, main_codec: TokenCodec, draft_codec: TokenCodec
) -> TokenMap | None:
    """The pair's one-to-one map, built once per pair of loaded models and checked on a probe
    text (same token texts but other merges would tokenize differently: no fast path)."""
    per_main = _maps.setdefault(main, weakref.WeakKeyDictionary())
    if draft in per_main:
        return per_main[draft]
    found: TokenMap | None = None
    m_vocab, d_vocab = main.info.vocab, draft.info.vocab
    if m_vocab.vocab_type == d_vocab.vocab_type:
        found = TokenMap.build(m_vocab.tokens(), d_vocab.tokens())
        if found is not None:
            probe = PROBE_TEXT.encode()
            m_ids, d_ids = main_codec.encode(probe), draft_codec.encode(probe)
            if m_ids is None or d_ids is None or [int(found.to_main[t]) for t in d_ids] != m_ids:
                found = None
    per_main[draft] = found
    return found


class TranslatedDraft:
    """Drafts for `main` with `model`, a draft model with another tokenizer (same engine).
    Built once per lease (the token map and codecs are the pair's); `warm` starts a reply."""

    capabilities = MODEL

    def __init__(self, main: TextModel, model: TextModel, *, fast_path: bool = True) -> None:
        self.main, self.model = main, model
        self.name = model.name
        self._inner = ModelDraft(model)
        self._main_codec = TokenCodec(main)
        self._draft_codec = TokenCodec(model)
        self.map = token_map(main, model, self._main_codec, self._draft_codec) if fast_path else None
        self._main_ids: list[int] = []  # main-model tokens the draft's text stands for
        self._draft_ids: list[int] = []  # the same text in the draft's vocabulary

    @property
    def identity(self) -> str:
        return model_identity(self.model)

    @property
    def translates_for(self) -> object:
        return self.main

    @property
    def translating(self) -> str:
        """How ids cross over: "map" (one-to-one table) or "text" (re-tokenized)."""
        return "map" if self.map is not None else "text"

    # --- the draft's text follows the main model's --------------------------------------------
    def _sync(self, sequence: Sequence[int]) -> bool:
        """Bring the draft's tokens to the text of `sequence`; False when that text ends in
        the middle of a character (the draft waits for the rest)."""
        if self.map is not None:
            self._draft_ids = [int(t) for t in self.map.to_draft[np.asarray(sequence, dtype=np.int64)]]
            self._main_ids = list(sequence)
            return True
        known = len(self._main_ids)
        if known and len(sequence) >= known and list(sequence[:known]) == self._main_ids:
            new = sequence[known:]
            if not new:
                return True
            data = self._main_codec.join(new, specials=True)
            if not utf8_complete(data):
                return False
            self._extend(data)
        else:
            start = 1 if self._main_codec.bos and list(sequence[:1]) == self._main_codec.bos else 0
            data = self._main_codec.join(sequence[start:], specials=True)
            if not utf8_complete(data):
                return False
            tokens = self._draft_codec.encode(data, specials=True)
            if tokens is None:
                tokens = self._draft_codec.tokenize(
                    data.decode("utf-8", "replace"), add_special=False, specials=True
                )
            self._draft_ids = [*self._draft_codec.bos, *tokens]
        self._main_ids = list(sequence)
        return True

    def _extend(self, data: bytes) -> None:
        """Append text to the draft's tokens, re-tokenizing a few tokens at the seam."""
        codec, ids = self._draft_codec, self._draft_ids
        keep = len(codec.bos) if ids[: len(codec.bos)] == codec.bos else 0
        tail = min(codec.seam_tail(ids), len(ids) - keep)
        if tail:
            redo = codec.encode(codec.join(ids[len(ids) - tail :]) + data, specials=True)
            if redo is not None:
                self._draft_ids = ids[: len(ids) - tail] + redo
                return
        more = codec.encode(data, specials=True)
        if more is None:  # cannot round-trip: the draft sees nearly the same text
            more = codec.tokenize(data.decode("utf-8", "replace"), add_special=False, specials=True)
        self._draft_ids = ids + more

    def warm(self, sequence: Sequence[int], cancel: CancelFlag | None = None, *, model: bool = True) -> None:
        if model and self._sync(sequence):
            self._inner.warm(self._draft_ids, cancel)

    # --- a round ------------------------------------------------------------------------------
    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal:
        if not rule.model_allowed:
            return Proposal()
        t0 = time.perf_counter()
        if not self._sync(sequence):
            return Proposal(from_model=True, seconds=time.perf_counter() - t0)
        sync_seconds = time.perf_counter() - t0
        inner = self._inner.propose(self._draft_ids, budget, sampler, rule)
        if not inner.tokens:
            inner.seconds += sync_seconds
            return inner
        t1 = time.perf_counter()
        out = self._mapped(inner) if self.map is not None else self._retokenized(sequence, inner, budget)
        out.from_model, out.steps, out.catch_up = True, inner.steps, inner.catch_up
        out.seconds = inner.seconds + sync_seconds + (time.perf_counter() - t1)
        return out

    def _mapped(self, inner: Proposal) -> Proposal:
        assert self.map is not None
        to_main = self.map.to_main
        dists: list[TokenDistribution | None] = [
            None if q is None else TokenDistribution(to_main[q.ids], q.probs, q.confidence)
            for q in inner.dists
        ]
        return Proposal([int(to_main[t]) for t in inner.tokens], dists, list(inner.confidences))

    def _retokenized(self, sequence: Sequence[int], inner: Proposal, budget: int) -> Proposal:
        """The draft's text as main-model tokens, proposed deterministically."""
        draft = self._draft_codec
        ends: list[int] = []  # byte offset where each draft token's text ends
        data = b""
        for token in inner.tokens:
            if not draft.is_plain(token):
                break  # a control token (end of text, a turn marker): the text stops here
            data += draft.piece(token)
            ends.append(len(data))
        data = whole_chars(data)
        out = Proposal()
        if not data:
            return out
        tokens = self._main_codec.continuation(sequence, data)
        if not tokens:
            return out
        at = 0
        for token in tokens[:budget]:
            at += len(self._main_codec.piece(token))
            source = next((i for i, end in enumerate(ends) if end >= at), len(ends) - 1)
            out.tokens.append(token)
            out.dists.append(None)
            out.confidences.append(inner.confidences[source] if inner.confidences else math.nan)
        return out

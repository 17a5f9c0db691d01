"""The model interface the decoding loop drives: one sequence in a cache, rows of logits,
rollback. The llama.cpp and MLX backends (and the tests' numpy model) implement it; the
prefix reuse they share lives here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from app.core.errors import ContextOverflowError


class TokenModel(Protocol):
    """A model holding one sequence in its cache."""

    n_ctx: int
    cached: list[int]  # the tokens in its cache, in order
    n_batch: int  # the most tokens one decode call takes

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def n_cached(self) -> int: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def truncate(self, n: int) -> None: ...
    def prefill(self, tokens: Sequence[int]) -> None: ...
    def logits(self, row: int) -> np.ndarray: ...
    def piece(self, token: int) -> bytes: ...
    def is_eog(self, token: int) -> bool: ...


class CachedSequence:
    """Prefix reuse for models that keep `cached` (the tokens in their KV cache) and can
    `truncate` and `eval`: shared by the llama.cpp and MLX backends."""

    cached: list[int]

    def truncate(self, n: int) -> None:
        raise NotImplementedError

    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None:
        raise NotImplementedError

    @property
    def n_cached(self) -> int:
        return len(self.cached)

    def prefill(self, tokens: Sequence[int]) -> None:
        """Make the cache hold exactly `tokens`, reusing the longest cached prefix, with the
        logits of the last token available at row 0."""
        common = common_prefix(self.cached, tokens, min(len(self.cached), len(tokens) - 1))
        self.truncate(common)
        self.eval(tokens[common:], n_logits=1)


TAIL = 32  # compared token by token; what comes before it, as one list comparison


def common_prefix(a: list[int], b: Sequence[int], limit: int) -> int:
    """How many leading tokens `a` and `b` share, up to `limit`. Called every round on the
    whole sequence, so it compares at C speed: the head in one list comparison (a draft's
    cache differs from the sequence only near its end), the last TAIL tokens one by one;
    another text altogether is bisected."""
    if not isinstance(b, list):
        b = list(b)
    lo, hi = 0, limit
    head = max(0, limit - TAIL)
    if head and a[:head] == b[:head]:
        lo = head
    else:  # the divergence is in [lo, hi): halve it while it is long
        while hi - lo > TAIL:
            mid = (lo + hi) // 2
            if a[:mid] == b[:mid]:
                lo = mid
            else:
                hi = mid
    while lo < hi and a[lo] == b[lo]:
        lo += 1
    return lo


def ensure_prompt_fits(n_prompt: int, n_ctx: int) -> None:
    """A prompt must leave room for at least one new token: refuse it before any work."""
    if n_prompt >= n_ctx:
        raise ContextOverflowError(
            f"the prompt is {n_prompt} tokens but the context holds {n_ctx}; "
            "shorten it or load the model with a longer context"
        )

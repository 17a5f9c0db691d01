"""The model interface the decoding loop drives: one sequence in a cache, rows of logits,
rollback. The llama.cpp and MLX backends (and the tests' numpy model) implement it; the
prefix reuse they share lives here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np


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
    def shift_to(self, tokens: Sequence[int]) -> int: ...
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

    def shift_to(self, tokens: Sequence[int]) -> int:  # noqa: ARG002 (the interface's signature)
        """Where `tokens` are the cache's with one run left out (earlier turns dropped from
        a conversation), leave that run out of the cache too and keep what follows it, when
        the model can (llama.cpp's KV shift: app/engines/llamacpp.py); returns the tokens
        left out. Here it cannot: what follows the run is read again."""
        return 0

    def prefill(self, tokens: Sequence[int]) -> None:
        """Make the cache hold exactly `tokens`, reusing the longest cached prefix (after a
        KV shift, where the model can), with the logits of the last token at row 0."""
        self.shift_to(tokens[:-1])
        common = common_prefix(self.cached, tokens, min(len(self.cached), len(tokens) - 1))
        self.truncate(common)
        self.eval(tokens[common:], n_logits=1)


SHIFT_MIN_MATCH = 8  # a shift must keep at least this many tokens to be worth it
SHIFT_CANDIDATES = 256  # places looked at for the run's end


def spliced_run(cached: Sequence[int], tokens: Sequence[int]) -> tuple[int, int] | None:
    """(start, length) of the run that, left out of `cached`, lines up the most of what
    follows it with `tokens` (at least SHIFT_MIN_MATCH tokens), starting where the two part;
    None when no run does."""
    limit = min(len(cached), len(tokens))
    common = common_prefix(list(cached), tokens, limit)
    if common >= limit:
        return None
    have = np.asarray(cached, dtype=np.int64)
    want = np.asarray(tokens[common:], dtype=np.int64)
    starts = np.flatnonzero(have[common + 1 :] == want[0])[:SHIFT_CANDIDATES] + common + 1
    best, best_at = 0, -1
    for at in starts.tolist():
        n = min(len(have) - at, len(want))
        differ = np.flatnonzero(have[at : at + n] != want[:n])
        match = int(differ[0]) if len(differ) else n
        if match > best:
            best, best_at = match, at
    if best < SHIFT_MIN_MATCH:
        return None
    return common, best_at - common


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

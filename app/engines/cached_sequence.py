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
        common = 0
        limit = min(len(self.cached), len(tokens) - 1)
        cached = self.cached
        while common < limit and cached[common] == tokens[common]:
            common += 1
        self.truncate(common)
        self.eval(tokens[common:], n_logits=1)


def ensure_prompt_fits(n_prompt: int, n_ctx: int) -> None:
    """A prompt must leave room for at least one new token: refuse it before any work."""
    if n_prompt >= n_ctx:
        raise ContextOverflowError(
            f"the prompt is {n_prompt} tokens but the context holds {n_ctx}; "
            "shorten it or load the model with a longer context"
        )

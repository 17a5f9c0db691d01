"""A model in a few lines of numpy for tests that need thousands of replies: the decoding loop
drives it exactly as it drives llama.cpp (a cache of one sequence, batched rows of logits,
rollback), at a fraction of the cost.

Its next-token scores depend on the last two tokens (a random table), so the repeat penalty
and the whole sampler chain have something to work on; token 0 ends the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.engines.cached_sequence import CachedSequence

EOG = 0


class NumpyModel(CachedSequence):
    def __init__(self, table: np.ndarray, name: str, n_ctx: int = 512) -> None:
        self.table = table.astype(np.float32)  # [contexts, vocabulary]
        self.n_vocab = table.shape[1]
        self.n_ctx = n_ctx
        self.n_batch = 64
        self.cached: list[int] = []
        self._name = name
        self._rows = np.zeros((0, self.n_vocab), dtype=np.float32)

    @classmethod
    def random(cls, n_vocab: int = 12, contexts: int = 61, seed: int = 0, scale: float = 1.0) -> NumpyModel:
        table = np.random.default_rng(seed).standard_normal((contexts, n_vocab)) * scale
        table[:, EOG] -= 2.0  # the end is possible, not frequent
        return cls(table, f"numpy-{seed}")

    def related(self, noise: float, seed: int = 1) -> NumpyModel:
        """A draft that agrees with this model often, not always."""
        rng = np.random.default_rng(seed)
        return NumpyModel(self.table + noise * rng.standard_normal(self.table.shape), f"{self._name}-draft")

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> Path | None:
        return None

    def _context(self, seq: Sequence[int], i: int) -> int:
        prev = seq[i - 1] if i > 0 else 1
        return (prev * 31 + seq[i]) % len(self.table)

    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None:
        self.cached.extend(tokens)
        end = len(self.cached)
        rows = [self._context(self.cached, i) for i in range(end - n_logits, end)]
        self._rows = self.table[rows]

    def truncate(self, n: int) -> None:
        del self.cached[n:]

    def logits(self, row: int) -> np.ndarray:
        return self._rows[row]

    def piece(self, token: int) -> bytes:
        return f" t{token}".encode()

    def is_eog(self, token: int) -> bool:
        return token == EOG

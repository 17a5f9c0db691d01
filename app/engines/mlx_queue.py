"""A batch queued on the device before the loop asks for it (MLX).

mlx-lm's own loops build and queue work before they read what the host needs: generate_step
queues step n+1 before it reads token n; speculative_generate_step queues the verify batch
behind the draft's steps, fed the draft's tokens where they are, and reads both at once. So
the device computes while the host reads and goes round its loop. The MLX model does the same
behind the loop's ordinary calls: the batch is already in the KV cache, past the tokens the
model says it holds (`cached`); the next `eval` with exactly those tokens takes it (the same
batch: the same numbers), anything else drops it first (the cache trimmed back), so the cache
never ends up a position off, whatever the loop does next (a stop, a cancel, a draft cut
short, another reply).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Queued:
    """The tokens fed, as a list: numbers (NO_TOKEN: one the host never learned, so never
    taken) or device arrays, each (1, 1) (a draft's proposal: read once the draft's wait has
    computed them), and their logits rows, still computing."""

    fed: list[int] | list[Any]
    rows: Any
    first: int | None = None  # a token fed before `fed` (the verify batch's last sent token)

    @property
    def size(self) -> int:
        return int(self.rows.shape[0])

    def tokens(self) -> list[int]:
        """Read from the tokens themselves, never from the batch built on them: a device array
        the batch concatenated would be ready only when the whole batch is."""
        fed = [t if isinstance(t, int) else int(t.item()) for t in self.fed]
        return fed if self.first is None else [self.first, *fed]


def can_drop_any(cache: Any) -> bool:
    """Whether a layer's cache can always take back the last positions added: plain KV caches
    and the rollback-safe window (app/engines/mlx_cache.py); others (recurrent states, caches
    with attention sinks) are not queued ahead of the loop."""
    from mlx_lm.models.cache import KVCache

    from app.engines.mlx_cache import WindowKVCache

    return type(cache) in (KVCache, WindowKVCache)

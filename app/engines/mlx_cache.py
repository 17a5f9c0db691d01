"""A sliding-window KV cache that can always roll back a round of drafting.

mlx-lm's RotatingKVCache keeps exactly the attention window and overwrites the oldest
entries in place, so once a reply is longer than the window it can no longer drop its last
tokens: every rejected draft would then re-read the whole context from scratch. This cache
keeps the window plus some slack, in time order, and cuts the oldest entries off only when
its buffer is full, so the last `slack` tokens can always be taken back; the attention mask
still limits each query to the window, so the model computes exactly what it computes with
the rotating cache. Memory stays bounded (window + slack + a growth step + one chunk).
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
from mlx_lm.models.base import create_causal_mask

DEFAULT_SLACK = 256  # more than a round can roll back (Max Draft Size is at most 64)
STEP = 256


class WindowKVCache:
    """Drop-in for RotatingKVCache(max_size=window, keep=0) that is always trimmable by up to
    `slack` tokens. `offset` is the absolute position (RoPE needs it)."""

    def __init__(self, window: int, slack: int = DEFAULT_SLACK, step: int = STEP) -> None:
        self.window = window
        self.slack = slack
        self.step = step  # the buffer grows by this much at a time
        self.keys: Any = None
        self.values: Any = None
        self.offset = 0  # tokens seen in total
        self.start = 0  # absolute position of the buffer's first entry
        self._len = 0  # valid entries in the buffer

    # --- what the attention layers call ---------------------------------------------------
    def update_and_fetch(self, keys: Any, values: Any) -> tuple[Any, Any]:
        n_new = keys.shape[2]
        if self._regrows(n_new):
            self._regrow(keys, values, n_new)
        self.keys[..., self._len : self._len + n_new, :] = keys
        self.values[..., self._len : self._len + n_new, :] = values
        self._len += n_new
        self.offset += n_new
        return self.keys[..., : self._len, :], self.values[..., : self._len, :]

    def _regrows(self, n_new: int) -> bool:
        return self.keys is None or self._len + n_new > self.keys.shape[2]

    def _kept(self, n_new: int) -> int:
        """Entries the buffer keeps from before n new ones: all, unless it must regrow, which
        keeps the newest window + slack."""
        return min(self._len, self.window + self.slack) if self._regrows(n_new) else self._len

    def _regrow(self, keys: Any, values: Any, n_new: int) -> None:
        """A new buffer holding the newest window + slack entries and room to grow."""
        kept = self._kept(n_new)
        drop = self._len - kept
        capacity = (kept + n_new + self.step - 1) // self.step * self.step + self.step
        batch, heads, _, k_dim = keys.shape
        new_k = mx.zeros((batch, heads, capacity, k_dim), keys.dtype)
        new_v = mx.zeros((batch, heads, capacity, values.shape[3]), values.dtype)
        if kept:
            new_k[..., :kept, :] = self.keys[..., drop : self._len, :]
            new_v[..., :kept, :] = self.values[..., drop : self._len, :]
        self.keys, self.values = new_k, new_v
        self.start += drop
        self._len = kept

    def make_mask(self, n: int, window_size: int | None = None, return_array: bool = False) -> Any:
        """Mask for `n` new queries over the entries the buffer will hold before theirs (the
        layers ask before they add them, and adding may cut the oldest off): causal, and no key
        further back than the window."""
        window = window_size or self.window
        past = self._kept(n)
        if past + n <= window:
            if n == 1 and not return_array:
                return None
            return create_causal_mask(n, past) if return_array else "causal"
        return create_causal_mask(n, past, window_size=window)

    # --- rolling back -------------------------------------------------------------------
    def can_trim(self, n: int) -> bool:
        """After dropping n tokens the buffer must still hold the next query's window."""
        return n <= self._len and (self.start == 0 or self._len - n >= self.window - 1)

    def is_trimmable(self) -> bool:
        return True

    def trim(self, n: int) -> int:
        n = min(self._len, n)
        self._len -= n
        self.offset -= n
        return n

    # --- the rest of mlx-lm's cache interface ---------------------------------------------
    def size(self) -> int:
        return self._len

    def empty(self) -> bool:
        return self.keys is None

    @property
    def state(self) -> tuple[Any, Any]:
        if self.keys is None:
            return (None, None)
        return self.keys[..., : self._len, :], self.values[..., : self._len, :]

    @property
    def nbytes(self) -> int:
        return 0 if self.keys is None else int(self.keys.nbytes + self.values.nbytes)


def make_rollback_cache(model: Any) -> list[Any]:
    """The model's prompt cache, with every plain sliding-window layer made rollback-safe
    (rotating caches with attention sinks, `keep` > 0, are left as mlx-lm made them)."""
    from mlx_lm.models.cache import RotatingKVCache, make_prompt_cache

    cache = make_prompt_cache(model)
    return [WindowKVCache(c.max_size) if isinstance(c, RotatingKVCache) and c.keep == 0 else c for c in cache]


def can_trim(cache: list[Any], n: int) -> bool:
    """Whether every layer's cache can drop its last n tokens."""
    return all(c.can_trim(n) if isinstance(c, WindowKVCache) else c.is_trimmable() for c in cache)

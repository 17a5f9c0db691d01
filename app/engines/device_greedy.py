"""Greedy decoding where the logits are: a shortcut for models that compute on a device.

When the argmax of the raw logits alone picks every token (temperature 0, no repeat
penalty: TokenSampler.plain_greedy), copying each row of logits to the host to sample it there
costs a device synchronisation per token; a model that can find its argmax (and, for a
draft, the few best scores the confidence needs) on the device lets the loop queue a whole
round and wait once. The answers are exactly the numpy sampler's: the first of equal maxima,
and the confidence computed by the same function (sampling.greedy_confidence). A row whose
best score is not a finite number (a NaN, an infinity) is left to the numpy sampler, which
knows what to make of it: the device says NO_TOKEN, and a run of draft tokens stops before
it. MLX implements this (app/engines/mlx_greedy.py); other engines do not, and the loop takes
its general path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from app.engines.sampling import greedy_confidence

NO_TOKEN = -1  # a row whose best score is not a finite number: for the numpy sampler


@dataclass(frozen=True)
class GreedyRun:
    """A greedy continuation and, when asked, the best scores of the row each token came from."""

    tokens: list[int]
    tops: np.ndarray | None = None  # (len(tokens), CONFIDENCE_TOP or the vocabulary's size)

    def confidence(self, i: int) -> float:
        """NaN when the scores were not asked for (as the sampler leaves it)."""
        return math.nan if self.tops is None else greedy_confidence(self.tops[i])


@runtime_checkable
class DeviceGreedy(Protocol):
    """A model that finds its greedy tokens where its logits are."""

    def greedy_rows(self, ahead: bool = False) -> list[int]:
        """The argmax of every row of the last batch's logits (NO_TOKEN: no finite best).
        `ahead`: the caller will most likely `eval` the last row's token alone next (a round
        without a draft), so the model may queue that step before it waits for this one."""
        ...

    def greedy_run(self, n: int, tops: bool, then: Callable[[Any], None] | None = None) -> GreedyRun:
        """Up to n tokens continuing the cache, each the argmax after the one before: the
        first from the last batch's last row; all but the last are evaluated (they join the
        cache), as in a draft's round. Fewer when a row has no finite best: the run stops
        before that row's token, with the cache and the last batch's logits where that row is.
        `then` is given the n tokens where they are (on an engine's device) before the
        model waits for them: the main model's `queue_verify` queues its batch behind them."""
        ...

    def queue_verify(self, last: int, drafted: Any) -> None:
        """The loop will most likely `eval([last, *drafted])` next, `drafted` being a draft
        model's `greedy_run` tokens still on the (same engine's) device: queue it now."""
        ...


def greedy_token(tops: list[int], row: int, numpy_token: Callable[[int], int]) -> int:
    """The row's argmax, or `numpy_token(row)` for a row without a finite best."""
    return tops[row] if tops[row] != NO_TOKEN else numpy_token(row)


def greedy_verify(
    tops: list[int], drafted: list[int], confidences: Sequence[float], numpy_token: Callable[[int], int]
) -> tuple[list[int], int, list[tuple[float, float]], float]:
    """The loop's check of a draft when the argmax alone decides, from the verify rows' argmax
    (`tops`; `numpy_token(row)` answers for a NO_TOKEN row): p is all on the argmax, so a
    drafted token's acceptance chance and its overlap are 1 when it is the argmax, else 0, and
    the argmax at the first refusal (or after the last token) is the main model's own. The
    same (accepted, own token, (confidence, chance) per examined token, summed overlap) as the
    loop's general check gives."""
    accepted: list[int] = []
    checks: list[tuple[float, float]] = []
    overlap = 0.0
    for i, x in enumerate(drafted):
        top = greedy_token(tops, i, numpy_token)
        chance = 1.0 if top == x else 0.0
        checks.append((confidences[i], chance))
        overlap += chance
        if top != x:
            return accepted, top, checks, overlap
        accepted.append(x)
    return accepted, greedy_token(tops, len(drafted), numpy_token), checks, overlap

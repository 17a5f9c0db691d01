"""A draft checked against the main model's rows with speculative sampling: the loop's general
path (app/engines/device_greedy.py is the argmax-only shortcut). A drafted token x is kept with
probability min(1, p(x)/q(x)); at the first refusal the main model's own token is drawn from
the residual, and when every token is kept, from the row after the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.engines.drafting import Proposal, push_window
from app.engines.sampling import TokenDistribution, TokenSampler


@dataclass(frozen=True)
class SampledCheck:
    accepted: list[int]
    own: int  # the main model's own next token
    checks: list[tuple[float, float]]  # (confidence, acceptance chance) per examined token
    overlap: float  # summed over the examined tokens: sum_x min(p(x), q(x))
    last_row: TokenDistribution | None  # the row after the last token, when every one was kept


def verify_sampled(
    sampler: TokenSampler,
    logits: Callable[[int], np.ndarray],
    sequence: Sequence[int],
    proposal: Proposal | None,
    drafted: list[int],
    *,
    measure: bool,
    overlaps: bool,
) -> SampledCheck:
    """Check `drafted` (the proposal's tokens, or none) against the rows `logits(i)` of the
    batch that evaluated them after `sequence`. `measure`: each examined token's acceptance
    chance, for Auto and benchmarks; `overlaps`: the acceptance speculative sampling should
    achieve, for benchmarks (each costs a pass over the row)."""
    window = list(sampler.window(sequence))
    accepted: list[int] = []
    checks: list[tuple[float, float]] = []
    overlap = 0.0
    for i, x in enumerate(drafted):
        assert proposal is not None
        p = sampler.distribution(logits(i), window)
        q = proposal.dists[i]
        if measure:
            p_x = p.prob(x)
            q_x = 1.0 if q is None or sampler.greedy else q.prob(x)
            checks.append((proposal.confidences[i], min(1.0, p_x / q_x) if q_x > 0 else 0.0))
            if overlaps:
                overlap += p.overlap(None if sampler.greedy else q, x)
        own = sampler.verify(p, q, x)
        if own is not None:
            return SampledCheck(accepted, own, checks, overlap, None)
        accepted.append(x)
        push_window(window, x, sampler.window_size)
    p = sampler.distribution(logits(len(drafted)), window)
    return SampledCheck(accepted, sampler.sample(p), checks, overlap, p)

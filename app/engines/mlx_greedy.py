"""MLX's greedy tokens found on the device (the shortcut app/engines/device_greedy.py
describes): argmax and the best scores computed where the logits are, a draft's steps queued
one after another (each fed the previous step's token without it ever reaching the host),
and one wait for the lot, as mlx-lm's own speculative loop does. Rows stay in the model's
own dtype: widening to float32 changes no order and no score's value, and costs a pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import mlx.core as mx
import numpy as np

from app.engines.device_greedy import NO_TOKEN, GreedyRun
from app.engines.sampling import CONFIDENCE_TOP

# One step of the model: a (1, 1) token array in, the new position's logits out, (1, vocab).
Step = Callable[[mx.array], mx.array]


def argmax_rows(rows: mx.array, step: Step | None = None) -> tuple[list[int], mx.array | None]:
    """Each row's greedy token (NO_TOKEN where it has no finite best), in one wait. MLX's
    argmax takes the first of equal maxima, as numpy's; a NaN anywhere makes the best NaN: such
    rows are the numpy sampler's. The best scores are checked on the host: two operations
    queued, not four (on a CPU every operation has a price of its own). With `step`, the step
    fed the last row's argmax is queued before the wait, as mlx-lm's generate_step does (the
    device computes it while the host reads this one and goes round its loop): its logits row
    comes back, still computing."""
    arg = mx.argmax(rows, axis=-1, keepdims=True)
    best = mx.max(rows, axis=-1)
    ahead = None
    if step is not None:
        # the next step built while this one computes (queuing blocks until the work already
        # queued is nearly done); the tokens queued first: the device runs what it is given in
        # order, so queued after the next step the wait for them would wait for that step too
        ahead = step(arg if rows.shape[0] == 1 else arg[-1:])
        mx.async_eval(arg, best)
        mx.async_eval(ahead)
    mx.eval(arg, best)  # one wait for both (each read alone would queue its own)
    return _checked(cast(list[list[int]], arg.tolist()), cast(list[float], best.tolist())), ahead


def _checked(found: list[list[int]], best: list[float]) -> list[int]:
    return [t if math.isfinite(b) else NO_TOKEN for (t,), b in zip(found, best, strict=True)]


def run(
    rows: mx.array, n: int, step: Step, tops: bool, then: Callable[[list[mx.array]], None] | None = None
) -> tuple[GreedyRun, list[int], list[mx.array]]:
    """Up to n greedy tokens from `rows`' last row, feeding each but the last to `step`:
    (the run, the tokens fed, the logits row by row, each (1, vocab): `rows`' last, then each
    step's). The run stops before a row with no finite best (checked once, for all rows,
    after): the caller drops what was fed after it. Each step costs the model's operations and
    one more (the argmax): on a CPU every operation queued has a price of its own. `then` is
    given the n tokens, each (1, 1), still on the device, before the wait (to queue work fed
    by them)."""
    found = [rows[-1:]]
    args = []
    for i in range(n):
        arg = mx.argmax(found[-1], axis=-1, keepdims=True)
        args.append(arg)
        if i == n - 1:
            break
        found.append(step(arg))
        mx.async_eval(arg)  # the device starts while the next step is built
    stacked = mx.concatenate(found)
    best = mx.max(stacked, axis=-1)
    scores = (
        mx.topk(stacked, min(CONFIDENCE_TOP, stacked.shape[-1]), axis=-1).astype(mx.float32) if tops else None
    )
    wanted = [*args, best, *([scores] if scores is not None else [])]
    if then is not None:  # what the host reads is queued before the work `then` adds
        mx.async_eval(*wanted)
        then(args)
    mx.eval(*wanted)
    fed = [cast(int, a.item()) for a in args]
    valid = [math.isfinite(b) for b in cast(list[float], best.tolist())]
    kept = valid.index(False) if not all(valid) else n
    top_scores = np.array(scores)[:kept] if scores is not None else None
    return GreedyRun(fed[:kept], top_scores), fed[: n - 1], found

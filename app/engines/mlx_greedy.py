"""MLX's greedy tokens found on the device (the shortcut app/engines/device_greedy.py
describes): argmax and the best scores computed where the logits are, a draft's steps queued
one after another (each fed the previous step's token without it ever reaching the host),
and one wait for the lot, as mlx-lm's own speculative loop does. Rows stay in the model's
own dtype: widening to float32 changes no order and no score's value, and costs a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import mlx.core as mx
import numpy as np

from app.engines.device_greedy import NO_TOKEN, GreedyRun
from app.engines.sampling import CONFIDENCE_TOP

# One step of the model: a (1, 1) token array in, the new position's logits out, (vocab,).
Step = Callable[[mx.array], mx.array]


def argmax_rows(rows: mx.array) -> list[int]:
    """Each row's greedy token (NO_TOKEN where it has no finite best), in one wait. MLX's
    argmax takes the first of equal maxima, as numpy's; a NaN anywhere makes the best NaN: such
    rows are the numpy sampler's."""
    arg, ok = mx.argmax(rows, axis=-1), mx.isfinite(mx.max(rows, axis=-1))
    mx.eval(arg, ok)
    tokens, finite = cast(list[int], arg.tolist()), cast(list[bool], ok.tolist())
    return [t if f else NO_TOKEN for t, f in zip(tokens, finite, strict=True)]


def run(rows: mx.array, n: int, step: Step, tops: bool) -> tuple[GreedyRun, list[int], list[mx.array]]:
    """Up to n greedy tokens from `rows`' last row, feeding each but the last to `step`:
    (the run, the tokens fed, the logits row by row: `rows`' last, then each step's). The run
    stops before a row with no finite best (checked once, for all rows, after): the caller
    drops what was fed after it. Each step costs the model's operations and two more (the
    argmax, its reshape): on a CPU every operation queued has a price of its own."""
    found = [rows[-1]]
    args = []
    for i in range(n):
        arg = mx.argmax(found[-1], axis=-1)
        args.append(arg)
        if i == n - 1:
            break
        found.append(step(arg.reshape(1, 1)))
        mx.async_eval(arg)  # the device starts while the next step is built
    stacked = mx.stack(found)
    tokens_dev = mx.stack(args)
    valid_dev = mx.isfinite(mx.max(stacked, axis=-1))
    scores = (
        mx.topk(stacked, min(CONFIDENCE_TOP, stacked.shape[-1]), axis=-1).astype(mx.float32) if tops else None
    )
    mx.eval(tokens_dev, valid_dev, *([scores] if scores is not None else []))
    fed = cast(list[int], tokens_dev.tolist())
    valid = cast(list[bool], valid_dev.tolist())
    kept = valid.index(False) if not all(valid) else n
    top_scores = np.array(scores)[:kept] if scores is not None else None
    return GreedyRun(fed[:kept], top_scores), fed[: n - 1], found

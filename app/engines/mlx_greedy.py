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

# One step of the model: a (1, 1) token array in, the new position's logits out, (1, vocab).
Step = Callable[[mx.array], mx.array]


def _picks(rows: mx.array) -> tuple[mx.array, mx.array]:
    """Each row's argmax (the first of equal maxima) and whether its best is finite (a NaN
    anywhere makes the best NaN: such rows are the numpy sampler's)."""
    return mx.argmax(rows, axis=-1), mx.isfinite(mx.max(rows, axis=-1))


def argmax_rows(rows: mx.array) -> list[int]:
    """Each row's greedy token (NO_TOKEN where it has no finite best), in one wait."""
    arg, ok = _picks(rows)
    return cast(list[int], mx.where(ok, arg.astype(mx.int32), NO_TOKEN).tolist())


def run(rows: mx.array, n: int, step: Step, tops: bool) -> tuple[GreedyRun, list[int], list[mx.array]]:
    """Up to n greedy tokens from `rows`' last row, feeding each but the last to `step`:
    (the run, the tokens fed, the logits row by row: `rows`' last, then each step's). The run
    stops before a row with no finite best: the caller drops what was fed after it."""
    args, oks, best = [], [], []
    found = [rows[-1:]]
    for i in range(n):
        arg, ok = _picks(found[-1][0])
        args.append(arg)
        oks.append(ok)
        if tops:
            top = mx.topk(found[-1][0], min(CONFIDENCE_TOP, found[-1].shape[-1]))
            best.append(top.astype(mx.float32))
        if i == n - 1:
            break
        found.append(step(arg.reshape(1, 1)))
        mx.async_eval(arg, *best[-1:])  # the device starts while the next step is built
    tokens_dev, valid_dev = mx.stack(args), mx.stack(oks)
    scores = mx.stack(best) if tops else None
    mx.eval(tokens_dev, valid_dev, *([scores] if scores is not None else []))
    tokens = cast(list[int], tokens_dev.tolist())
    valid = cast(list[bool], valid_dev.tolist())
    if not all(valid):
        tokens = tokens[: valid.index(False)]
    top_scores = np.array(scores)[: len(tokens)] if scores is not None else None
    return GreedyRun(tokens, top_scores), cast(list[int], tokens_dev.tolist())[: n - 1], found

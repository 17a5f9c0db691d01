"""The MLX pair: tiny MLX models (the tests' llama-style writer: hidden size 64, two layers,
a 320-token byte-level BPE vocabulary) whose step is as short as a GPU's, so the loop's own
work is what is measured. The draft is the same weights in another folder (greedy acceptance
100%: every round drafts the full size). Written at run time into SPECULA_TEST_MODELS.

mlx-lm's own loops, `speculative_generate_step` and `generate_step`, are timed here the way
GenerationStats times ours: tokens after the first over the time after the first. That
measure favours mlx-lm's speculative loop by about a round: its first token comes with the
first round's whole batch (the rest of the batch then arrives in no time), while ours comes
from a single step before the first round (Auto's baseline; an earlier first token). So both
are also timed end to end: all the tokens over the whole call, prompt reading included.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.mlx_factory import write_mlx_model
from tests.model_factory import model_cache_dir


def mlx_pair() -> tuple[Path, Path]:
    """(main, draft) folders; the draft holds the main's weights."""
    folder = model_cache_dir()
    out = []
    for name in ("mlx-tiny-main", "mlx-tiny-draft"):
        path = folder / name
        if not (path / "config.json").exists():
            write_mlx_model(path, seed=0)
        out.append(path)
    return out[0], out[1]


def mlx_lm_tok_s(
    model: Any, draft: Any | None, tokens: list[int], n: int, k: int, is_eog: Callable[[int], bool]
) -> tuple[float, float, list[int]]:
    """mlx-lm's speculative loop (or its plain loop without a draft), greedy, fresh caches,
    stopped at n tokens or end of generation like ours: (tok/s after the first token, tok/s
    end to end, the tokens)."""
    import mlx.core as mx
    from mlx_lm.generate import generate_step, speculative_generate_step

    t_start = time.perf_counter()
    prompt = mx.array(tokens)
    steps: Iterator[tuple[Any, ...]] = (
        speculative_generate_step(prompt, model, draft, num_draft_tokens=k, max_tokens=n)
        if draft is not None
        else generate_step(prompt, model, max_tokens=n)
    )
    t_first: float | None = None
    out: list[int] = []
    for step in steps:
        token = int(step[0])
        if t_first is None:
            t_first = time.perf_counter()
        out.append(token)
        if is_eog(token):
            break
    t_end = time.perf_counter()
    count = len(out)
    rate = (count - 1) / (t_end - t_first) if t_first is not None and count > 1 else 0.0
    return rate, count / (t_end - t_start), out


def mlx_lm_stream_tok_s(
    model: Any, tokenizer: Any, draft: Any | None, tokens: list[int], n: int, k: int
) -> tuple[float, float, int]:
    """mlx-lm's `stream_generate` (its speculative loop with a draft, its plain loop without),
    greedy: what an app streaming text gets from mlx-lm, the tokens detokenized as they come,
    as ours does. (tok/s after the first token, tok/s end to end, how many tokens). Its text
    is not compared: its streamed pieces did not join to our text on this tiny vocabulary (not
    investigated); the tokens are the loops' `mlx_lm_tok_s` checks, and the counts match."""
    import mlx_lm

    t_start = time.perf_counter()
    kwargs: dict[str, Any] = {"draft_model": draft, "num_draft_tokens": k} if draft is not None else {}
    t_first: float | None = None
    count = 0
    for _ in mlx_lm.stream_generate(model, tokenizer, tokens, max_tokens=n, **kwargs):
        if t_first is None:
            t_first = time.perf_counter()
        count += 1
    t_end = time.perf_counter()
    rate = (count - 1) / (t_end - t_first) if t_first is not None and count > 1 else 0.0
    return rate, count / (t_end - t_start), count


# what builds, runs or waits for MLX work (queue_verify runs inside greedy_run: not timed twice)
MODEL_CALLS = ("eval", "logits", "greedy_rows", "greedy_run")


@contextlib.contextmanager
def mlx_eval_clock(cls: Any) -> Iterator[list[float]]:
    """Time spent in the model's calls that build, run or wait for MLX work (MODEL_CALLS:
    the forward passes, their evaluation, the logits' copy to numpy or the argmax found on the
    device) while active, wall and this thread's CPU: what is left of a reply's CPU time is
    the loop's own (waits for a busy machine excluded)."""
    spent = [0.0, 0.0]  # wall seconds, this thread's CPU seconds
    originals = {name: getattr(cls, name) for name in MODEL_CALLS}

    def timed(original: Callable[..., Any]) -> Callable[..., Any]:
        def call(self: Any, *args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t0
                spent[1] += time.thread_time() - c0

        return call

    for name, original in originals.items():
        setattr(cls, name, timed(original))
    try:
        yield spent
    finally:
        for name, original in originals.items():
            setattr(cls, name, original)

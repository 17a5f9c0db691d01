"""Reading a prompt in chunks, so a reply can be stopped before its first token.

A long prompt takes seconds to read, and the decoding loop checks its cancel flag only
between rounds. Here the prompt (all but its last token, which the loop reads itself to get
its logits) goes into the cache a batch at a time, with the flag checked between batches:
a client that hangs up while its prompt is being read frees the model within one batch.
The prefix already in the cache (the previous reply's prompt) is reused, as the loop would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from app.core.events import GenerationResult, GenerationStats, StopReason, StreamItem

PROMPT_CHUNK: int | None = None  # tokens per decode call while reading a prompt; None: the
# model's own batch size (llama.cpp splits a prompt into such batches anyway: checking the flag
# between them costs nothing)
DEFAULT_CHUNK = 512


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class PromptCache(Protocol):
    cached: list[int]

    def truncate(self, n: int) -> None: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...


def read_prompt(
    model: PromptCache, prompt: Sequence[int], cancel: CancelFlag | None, chunk: int | None = None
) -> bool:
    """Leave exactly `prompt[:-1]` in the model's cache; False when cancelled midway."""
    chunk = chunk or PROMPT_CHUNK or int(getattr(model, "n_batch", DEFAULT_CHUNK))
    target = list(prompt[:-1])
    cached = model.cached
    common, limit = 0, min(len(cached), len(target))
    while common < limit and cached[common] == target[common]:
        common += 1
    model.truncate(common)
    for start in range(common, len(target), chunk):
        if cancel is not None and cancel.is_set():
            return False
        model.eval(target[start : start + chunk], n_logits=0)
    return True


def _is_model(draft: object | None) -> bool:
    """A draft model (its own cache to fill), not a draft source such as prompt lookup."""
    return draft is not None and not hasattr(draft, "propose") and hasattr(draft, "cached")


def read_then_generate(
    main: PromptCache,
    draft: object | None,
    prompt: Sequence[int],
    cancel: CancelFlag | None,
    generate: Callable[[], Iterator[StreamItem]],
) -> Iterator[StreamItem]:
    """Read the prompt into the main model (and a draft model) chunk by chunk, then run
    `generate`; a reply cancelled meanwhile ends at once as "cancelled", with no tokens.
    The time spent reading counts in the reply's time to first token."""
    t0 = time.perf_counter()
    error: str | None = None
    done = False
    try:
        done = read_prompt(main, prompt, cancel)
        if done and _is_model(draft) and len(prompt) < int(getattr(draft, "n_ctx", 0) or 0):
            # a prompt the draft cannot hold is the loop's to report (the reply goes on plain)
            done = read_prompt(draft, prompt, cancel)  # type: ignore[arg-type]
    except Exception as exc:  # reported like an error in the loop: a result, not a raise
        error = str(exc) or type(exc).__name__
    reading = time.perf_counter() - t0
    if not done:
        stats = GenerationStats(
            prompt_tokens_count=len(prompt),
            draft_model=getattr(draft, "name", None),
            stop_reason=StopReason.ERROR if error else StopReason.CANCELLED,
            time_to_first_token=reading,
        )
        yield GenerationResult("", stats, error)
        return
    for item in generate():
        if isinstance(item, GenerationResult):
            item.stats.time_to_first_token += reading
        yield item

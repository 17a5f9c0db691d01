"""Reading a prompt in chunks, so a reply can be stopped before its first token.

A long prompt takes seconds to read, and the decoding loop checks its cancel flag only
between rounds. Here the prompt (all but its last token, which the loop reads itself to get
its logits) goes into the cache a batch at a time, with the flag checked between batches:
a client that hangs up while its prompt is being read frees the model within one batch.
The prefix already in the cache (the previous reply's prompt) is reused, as the loop would,
and so is what follows earlier turns the Context Overflow policy left out, where the model can
shift its cache (app/engines/cached_sequence.py).
The loop reads the main model's prompt this way, and a draft model's when it will run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

PROMPT_CHUNK: int | None = None  # tokens per decode call while reading a prompt; None: the
# model's own batch size (llama.cpp splits a prompt into such batches anyway: checking the flag
# between them costs nothing)


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class PromptCache(Protocol):
    cached: list[int]
    n_batch: int  # the most tokens one decode call takes

    def truncate(self, n: int) -> None: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def shift_to(self, tokens: Sequence[int]) -> int: ...


def read_prompt(
    model: PromptCache, prompt: Sequence[int], cancel: CancelFlag | None, chunk: int | None = None
) -> bool:
    """Leave exactly `prompt[:-1]` in the model's cache; False when cancelled midway."""
    chunk = chunk or PROMPT_CHUNK or model.n_batch
    target = list(prompt[:-1])
    model.shift_to(target)  # earlier turns left out: keep what follows them, where the model can
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

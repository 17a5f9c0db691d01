"""One reply's hold on the context: the prompt fitted before any work, fitted again when the
reply fills the context, and what the stats say of it.

The decoding loop stops a reply with `context_full` once every position of the context holds
a token (app/engines/speculative.py). Under truncate-middle and rolling-window it first asks
`refit`: the conversation is fitted again with the reply's tokens so far counted in
(app/engines/context_fit.py drops one more step of earlier turns), and the loop goes on from
the new sequence, the fitted prompt followed by the reply's own tokens, exactly as generated
(never re-tokenized, never cut). The models read it by reusing their caches: the prefix up to
the turns left out, and after them what a KV shift can keep (app/engines/llamacpp.py);
the draft reads the same sequence on its next proposal. Stop-at-limit, a raw prompt and a
reply longer than the context itself end with `context_full`.
"""

from __future__ import annotations

from collections.abc import Generator

from app.core.events import GenerationResult, GenerationStats, StreamItem
from app.core.request import GenerationRequest
from app.engines.context_fit import PromptFit, PromptModel, fit_prompt, fit_within, step_size


class ReplyContext:
    def __init__(self, model: PromptModel, request: GenerationRequest) -> None:
        """Fits the prompt now: ContextOverflowError (before any work) when it cannot fit."""
        self.model, self.request = model, request
        self.fit: PromptFit = fit_prompt(model, request)
        self.refits = 0

    @property
    def prompt(self) -> list[int]:
        return self.fit.tokens

    @property
    def can_refit(self) -> bool:
        return self.request.prompt is None and self.request.context_overflow.drops_mid_reply

    def refit(self, sequence: list[int]) -> list[int] | None:
        """The sequence to go on from once the context is full (`sequence`: the prompt then the
        reply so far), or None to stop: nothing more can be left out, or the policy stops."""
        if not self.can_refit:
            return None
        reply = sequence[len(self.fit.tokens) :]
        remaining = self.request.max_tokens - len(reply)
        room = max(1, min(remaining, step_size(self.model.n_ctx)))
        fit = fit_within(self.model, self.request, generated=len(reply), room=room)
        if len(fit.tokens) >= len(self.fit.tokens) or len(fit.tokens) + len(reply) >= len(sequence):
            return None
        self.fit = fit
        self.refits += 1
        return [*fit.tokens, *reply]

    def describe(self, stats: GenerationStats) -> None:
        """What the model read, in the reply's stats: the prompt after the last fitting."""
        stats.prompt_tokens_count = len(self.fit.tokens)
        stats.context_length = self.fit.context_length
        stats.truncated_turns = self.fit.dropped
        stats.truncated_from = self.fit.dropped_from


def described(
    stream: Generator[StreamItem, None, None], context: ReplyContext
) -> Generator[StreamItem, None, None]:
    """The stream with the context's figures in its result's stats (closing it closes the
    stream: a reply left half-read stops)."""
    try:
        for item in stream:
            if isinstance(item, GenerationResult):
                context.describe(item.stats)
            yield item
    finally:
        stream.close()

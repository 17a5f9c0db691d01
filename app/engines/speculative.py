"""The decoding loop, with or without a draft: one code path, so plain decoding is simply
speculation with empty drafts.

Each round: the draft proposes up to Max Draft Size tokens (stopping early when its top
token's probability falls under the cutoff); the main model evaluates its last token plus
the whole draft in one batch; we sample the main model row by row and accept while its
token equals the draft's, then keep the main model's first differing (or extra) token.
The output is therefore exactly what the main model's sampler produces, for any sampler.
Both caches are rolled back to the accepted prefix; the draft's cache is reused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from app.core.errors import ContextOverflowError
from app.core.events import (
    GenerationResult,
    GenerationStats,
    StopReason,
    StreamItem,
    TokenEvent,
    TokenOrigin,
)
from app.core.request import DraftSettings, GenerationRequest
from app.engines.drafting import AdaptiveDraftLength, DraftSource, ModelDraft
from app.engines.text_stream import TokenTextStream


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class TokenModel(Protocol):
    """A model holding one sequence in its cache."""

    n_ctx: int

    @property
    def name(self) -> str: ...
    @property
    def n_cached(self) -> int: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def truncate(self, n: int) -> None: ...
    def prefill(self, tokens: Sequence[int]) -> None: ...
    def top(self, row: int, with_prob: bool = True) -> tuple[int, float]: ...
    def piece(self, token: int) -> bytes: ...
    def is_eog(self, token: int) -> bool: ...


class CachedSequence:
    """Prefix reuse for models that keep `cached` (the tokens in their KV cache) and can
    `truncate` and `eval`: shared by the llama.cpp and MLX backends."""

    cached: list[int]

    def truncate(self, n: int) -> None:
        raise NotImplementedError

    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None:
        raise NotImplementedError

    @property
    def n_cached(self) -> int:
        return len(self.cached)

    def prefill(self, tokens: Sequence[int]) -> None:
        """Make the cache hold exactly `tokens`, reusing the longest cached prefix, with the
        logits of the last token available at row 0."""
        common = 0
        limit = min(len(self.cached), len(tokens) - 1)
        cached = self.cached
        while common < limit and cached[common] == tokens[common]:
            common += 1
        self.truncate(common)
        self.eval(tokens[common:], n_logits=1)


class Sampler(Protocol):
    def sample(self, row: int) -> int: ...


def ensure_prompt_fits(n_prompt: int, n_ctx: int) -> None:
    """A prompt must leave room for at least one new token: refuse it before any work."""
    if n_prompt >= n_ctx:
        raise ContextOverflowError(
            f"the prompt is {n_prompt} tokens but the context holds {n_ctx}; "
            "shorten it or load the model with a longer context"
        )


def as_draft_source(draft: object | None) -> DraftSource | None:
    """A draft model or a ready draft source (prompt lookup)."""
    if draft is None or hasattr(draft, "propose"):
        return draft  # type: ignore[return-value]
    return ModelDraft(draft)  # type: ignore[arg-type]


def run_generation(
    main: TokenModel,
    draft: object | None,
    prompt: Sequence[int],
    request: GenerationRequest,
    sampler: Sampler,
    cancel: CancelFlag | None = None,
) -> Iterator[StreamItem]:
    settings: DraftSettings = request.draft
    source = as_draft_source(draft)
    policy = AdaptiveDraftLength(settings.max_draft_size) if source is not None and settings.auto else None
    stats = GenerationStats(prompt_tokens_count=len(prompt), draft_model=source.name if source else None)
    stream = TokenTextStream(request.stop)
    pieces: list[str] = []
    sequence = list(prompt)
    sent = 0  # draft tokens given to the main model

    def release(events: list[TokenEvent]) -> list[TokenEvent]:
        for ev in events:
            pieces.append(ev.text)
            if ev.token_id >= 0:
                stats.predicted_tokens_count += 1
                if ev.origin is TokenOrigin.DRAFT:
                    stats.accepted_draft_tokens_count += 1
        return events

    t_start = time.perf_counter()
    t_first: float | None = None
    t_prompt: float | None = None
    error: str | None = None
    reason = StopReason.MAX_TOKENS
    try:
        main.prefill(sequence)
        if source is not None:
            source.warm(sequence)
        t_prompt = time.perf_counter()
        produced = 0
        last = sampler.sample(0)
        origin = TokenOrigin.MAIN
        while True:
            # `last` is sampled but not yet in the main cache.
            if main.is_eog(last):
                reason = StopReason.EOS
                break
            sequence.append(last)
            produced += 1
            out = release(stream.push(last, main.piece(last), origin))
            if t_first is None:
                t_first = time.perf_counter()
            if out:
                yield from out
            if stream.stopped:
                reason = StopReason.STOP_STRING
                break
            if produced >= request.max_tokens:
                reason = StopReason.MAX_TOKENS
                break
            if cancel is not None and cancel.is_set():
                reason = StopReason.CANCELLED
                break
            room = main.n_ctx - main.n_cached - 1
            if room <= 0:
                reason = StopReason.MAX_TOKENS  # context full
                break
            budget = min(settings.max_draft_size, request.max_tokens - produced - 1, room - 1)
            if policy is not None:
                budget = policy.choose(budget, time.perf_counter())
            drafted: list[int] = []
            if source is not None and budget > 0:
                drafted = source.propose(sequence, budget, settings.p_min)
                stats.total_draft_tokens_count += len(drafted)
                if len(drafted) < settings.min_draft_size:
                    stats.ignored_draft_tokens_count += len(drafted)
                    drafted = []
            sent += len(drafted)
            base = main.n_cached
            main.eval([last, *drafted], n_logits=len(drafted) + 1)
            stats.verify_steps += 1
            accepted: list[int] = []
            nxt = sampler.sample(0)
            while len(accepted) < len(drafted) and nxt == drafted[len(accepted)]:
                accepted.append(nxt)
                nxt = sampler.sample(len(accepted))
            if policy is not None:
                policy.observe(
                    len(drafted), len(accepted), getattr(source, "catch_up", 0.0) if budget else 0.0
                )
            if source is not None:
                stats.rounds.append([len(drafted), len(accepted)])
            if accepted:
                main.truncate(base + 1 + len(accepted))
                # Emit the accepted draft tokens; the main model's own token comes next round.
                stop_now = False
                for tok in accepted:
                    if main.is_eog(tok):
                        reason = StopReason.EOS
                        stop_now = True
                        break
                    sequence.append(tok)
                    produced += 1
                    out = release(stream.push(tok, main.piece(tok), TokenOrigin.DRAFT))
                    if out:
                        yield from out
                    if stream.stopped:
                        reason = StopReason.STOP_STRING
                        stop_now = True
                        break
                if stop_now:
                    break
            elif drafted:
                main.truncate(base + 1)
            last = nxt
            origin = TokenOrigin.MAIN
    except Exception as exc:  # report, keep the partial text
        reason = StopReason.ERROR
        error = str(exc) or type(exc).__name__
    finally:
        t_end = time.perf_counter()
    if reason is not StopReason.STOP_STRING:
        yield from release(stream.finish())
    stats.stop_reason = reason
    stats.rejected_draft_tokens_count = sent - stats.accepted_draft_tokens_count
    stats.time_to_first_token = (t_first or t_end) - t_start
    stats.generation_time = t_end - (t_prompt if t_prompt is not None else t_end)
    if stats.generation_time > 0:
        stats.tokens_per_second = stats.predicted_tokens_count / stats.generation_time
    yield GenerationResult("".join(pieces), stats, error)

"""The decoding loop, with or without a draft: one code path, so plain decoding is simply
speculation with empty drafts.

Each round the draft proposes up to Max Draft Size tokens, each drawn from its own
distribution q under the reply's sampler settings (prompt lookup proposes deterministically);
the fixed cutoff or Auto's learned rule decides how many are worth sending. The main model
evaluates its last token plus the whole draft in one batch, and checks the draft row by row
with speculative sampling: a drafted token x is kept with probability min(1, p(x)/q(x));
at the first refusal the main model's own token is drawn from the residual max(0, p - q),
and when all are kept it adds its next token from the last row. Every token therefore has
exactly the main model's distribution p; at temperature 0 (p and q all on their argmax) this
is plain greedy decoding, token for token. Both caches are rolled back to the accepted
prefix; the draft's cache is reused.

The stream carries, in order: the tokens (tagged main or draft, with the verify step whose
logits chose them), a DraftRejected after a round's accepted tokens when the main model
refused part of the draft, and a RoundEvent after each verify step of a reply with a draft.
Draft tokens are counted once, at verification (GenerationStats.add_round): the stats, the
RoundEvents and Auto see the same numbers; accepted tokens the reply never shows because it
stopped first (the end of generation, a stop string) are counted apart. A reply ends with
"context_full" once every position of the main model's context holds a token, unless the
caller's `refit` (the Context Overflow policy: app/engines/reply_context.py) gives a shorter
sequence to go on from: earlier turns left out, the reply so far kept as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any

from app.core.errors import SpeculaError
from app.core.events import (
    DraftRejected,
    GenerationResult,
    GenerationStats,
    RoundEvent,
    StopReason,
    StreamItem,
    TokenEvent,
    TokenOrigin,
)
from app.core.request import GenerationRequest
from app.engines.auto_draft import MEASURING, NOT_WORTH, RoundTiming
from app.engines.auto_reply import AutoReply
from app.engines.cached_sequence import TokenModel
from app.engines.device_greedy import DeviceGreedy, greedy_token, greedy_verify
from app.engines.drafting import (
    CutoffRule,
    DraftContextFull,
    DraftRule,
    DraftSource,
    ModelDraft,
    Proposal,
    file_identity,
)
from app.engines.prompt_reading import CancelFlag, read_prompt
from app.engines.reply_clock import ReplyClock
from app.engines.round_report import RoundObserver, RoundReport
from app.engines.sampled_verify import verify_sampled
from app.engines.sampling import TokenDistribution, TokenSampler
from app.engines.speculation_memory import SpeculationMemory
from app.engines.text_stream import Item, TokenTextStream

log = logging.getLogger(__name__)

# RoundEvent.paused: why a round drafted nothing
REPLY_LIMIT = "reply limit reached"
NOT_CONFIDENT = "draft not confident"
LOOKUP_EMPTY = "prompt lookup found nothing"
TOO_SHORT = "shorter than Min Draft Size"
DRAFT_CONTEXT_FULL = "draft context full"
DRAFT_FAILED = "draft failed"


# The context is full: the sequence to go on from (the same last token), or None to stop.
Refit = Callable[[list[int]], "list[int] | None"]


def run_generation(
    main: TokenModel,
    draft: DraftSource | None,
    prompt: Sequence[int],
    request: GenerationRequest,
    cancel: CancelFlag | None = None,
    *,
    memory: SpeculationMemory | None = None,
    observer: RoundObserver | None = None,
    refit: Refit | None = None,
) -> Generator[StreamItem, None, None]:
    """Stream one reply: token, rejected-draft and round events, then one GenerationResult.
    The prompt is read here, a batch at a time (a reply cancelled meanwhile ends at once as
    "cancelled", with no tokens); so is the draft model's, unless Auto will not run it."""
    reply = _Reply(main, draft, prompt, request, cancel, memory, observer)
    reply.refit = refit
    yield from reply.run()


class _Reply:
    def __init__(
        self,
        main: TokenModel,
        draft: DraftSource | None,
        prompt: Sequence[int],
        request: GenerationRequest,
        cancel: CancelFlag | None,
        memory: SpeculationMemory | None,
        observer: RoundObserver | None,
    ) -> None:
        self.main, self.request, self.cancel, self.observer = main, request, cancel, observer
        self.sampler = TokenSampler(request.sampling)
        # the argmax alone picks every token, and the model finds it where its logits are
        self.on_device: DeviceGreedy | None = (
            main if self.sampler.plain_greedy and isinstance(main, DeviceGreedy) else None
        )
        self.source = draft
        self.had_draft = draft is not None
        # the verify batch queued behind the draft's steps on the device (app/engines/mlx_queue.py)
        self.queues_verify = self.on_device is not None and isinstance(draft, ModelDraft)
        self._last_row: TokenDistribution | None = None  # the last verify's final row (sampled)
        self.memory = memory or SpeculationMemory()
        self.stats = GenerationStats(
            prompt_tokens_count=len(prompt), draft_model=draft.name if draft else None
        )
        self.stream = TokenTextStream(request.stop)
        self.pieces: list[str] = []
        self.draft_emitted = 0  # accepted draft tokens the reply shows
        self.sequence = list(prompt)
        self.produced = 0
        self.last = -1  # sampled, emitted, not yet in the main model's cache
        self.t_first: float | None = None
        self.main_id = file_identity(main.path)
        self.refit: Refit | None = None
        self.clock = ReplyClock()  # the no-draft speed, measured within this reply
        self.rule: DraftRule = CutoffRule(request.draft.p_min)
        self.learner: AutoReply | None = None
        if draft is not None and request.draft.auto:
            self.learner = AutoReply(draft, request, self.main_id, self.memory)
            self.rule = self.learner.rule

    # --- emitting ---------------------------------------------------------------------------
    def _release(self, items: list[Item]) -> list[Item]:
        for ev in items:
            if isinstance(ev, TokenEvent):
                self.pieces.append(ev.text)
                if ev.token_id >= 0:
                    self.stats.predicted_tokens_count += 1
                    self.draft_emitted += ev.origin is TokenOrigin.DRAFT
        return items

    def _mark(self, marker: DraftRejected | RoundEvent) -> list[Item]:
        """A marker in order with the tokens; a round summary even after a stop string (the
        live strip must see every round the stats count)."""
        if self.stream.stopped:
            return [marker] if isinstance(marker, RoundEvent) else []
        return self._release(self.stream.mark(marker))

    def _push(self, token: int, origin: TokenOrigin, rnd: int) -> tuple[list[Item], StopReason | None]:
        if self.main.is_eog(token):
            return [], StopReason.EOS
        self.sequence.append(token)
        self.produced += 1
        items = self._release(self.stream.push(token, self.main.piece(token), origin, rnd))
        if self.t_first is None:
            self.t_first = time.perf_counter()
        if self.stream.stopped:
            return items, StopReason.STOP_STRING
        if self.produced >= self.request.max_tokens:
            return items, StopReason.MAX_TOKENS
        return items, None

    def _stop_drafting(self, note: str) -> None:
        self.source = None
        self.stats.draft_note = note

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    # --- the reply -----------------------------------------------------------------------------
    def run(self) -> Generator[StreamItem, None, None]:
        t_start = time.perf_counter()
        error: str | None = None
        reason: StopReason | None = None
        try:
            if not self._read_prompts():
                self.stats.stop_reason = StopReason.CANCELLED  # before the first token: nothing learned
                self.stats.time_to_first_token = time.perf_counter() - t_start
                yield GenerationResult("", self.stats)
                return
            t0 = time.perf_counter()  # the prompt's last token: the reply's first single-token step
            self.main.prefill(self.sequence)
            if self.on_device is not None:
                tops = self.on_device.greedy_rows(ahead=self._plain_next(0))
                self.last = greedy_token(tops, 0, self._numpy_token)
            else:
                p = self.sampler.distribution(self.main.logits(0), self.sampler.window(self.sequence))
                self.last = self.sampler.sample(p)
            items, reason = self._push(self.last, TokenOrigin.MAIN, 0)
            yield from items
            self.clock.record(time.perf_counter() - t0, plain=True)
            while reason is None:
                reason = yield from self._round()
                if reason is StopReason.CONTEXT_FULL and self._make_room():
                    reason = None
        except Exception as exc:  # report, keep the partial text
            log.exception("generation failed")
            reason = StopReason.ERROR
            error = str(exc) or type(exc).__name__
        t_end = time.perf_counter()
        if reason is not StopReason.STOP_STRING:
            yield from self._release(self.stream.finish())
        s = self.stats
        s.stop_reason = reason or StopReason.MAX_TOKENS
        s.accepted_after_stop_count = s.accepted_draft_tokens_count - self.draft_emitted
        s.time_to_first_token = (self.t_first or t_end) - t_start
        s.set_speed(t_end - self.t_first if self.t_first is not None else 0.0)
        if self.t_first is not None:
            self._conclude()
        try:
            yield GenerationResult("".join(self.pieces), s, error)
        finally:  # the reply is out: what it taught is written after, off its token loop
            if self.t_first is not None:
                self._remember()

    def _read_prompts(self) -> bool:
        """The prompt into the main model (all but its last token), then into the draft model
        unless Auto will not run it in this reply; False when cancelled meanwhile."""
        if not read_prompt(self.main, self.sequence, self.cancel):
            return False
        if self.source is not None:
            model = self.learner is None or not self.learner.rule.paused_at_start
            try:
                self.source.warm(self.sequence, self.cancel, model=model)
            except DraftContextFull as exc:
                self._stop_drafting(str(exc))
        return not self._cancelled()

    def _make_room(self) -> bool:
        """The context is full: go on from the caller's shorter sequence, if it gives one (the
        main model reads it now; the draft on its next proposal)."""
        sequence = self.refit(self.sequence) if self.refit is not None else None
        if sequence is None or len(sequence) >= len(self.sequence) or sequence[-1] != self.last:
            return False
        self.sequence = sequence
        read_prompt(self.main, sequence, self.cancel)  # cancelled midway: the next round stops
        return True

    def _propose(self, cap: int) -> tuple[Proposal | None, str]:
        assert self.source is not None
        try:
            if self.queues_verify and isinstance(self.source, ModelDraft):
                proposal = self.source.propose(
                    self.sequence, cap, self.sampler, self.rule, queue_verify=self._queue_verify
                )
            else:
                proposal = self.source.propose(self.sequence, cap, self.sampler, self.rule)
        except DraftContextFull as exc:
            self._stop_drafting(str(exc))
            return None, DRAFT_CONTEXT_FULL
        except SpeculaError as exc:
            self._stop_drafting(f"The draft failed ({exc}): the rest of the reply was generated without it.")
            return None, DRAFT_FAILED
        if proposal.note:
            self.stats.draft_note = proposal.note
        if proposal.tokens:
            return proposal, ""
        if proposal.refused:
            return proposal, NOT_WORTH
        return proposal, NOT_CONFIDENT if proposal.from_model else LOOKUP_EMPTY

    def _round(self) -> Generator[StreamItem, None, StopReason | None]:
        """One verify step: draft, check, emit. Returns why the reply ends (None: go on)."""
        if self._cancelled():
            return StopReason.CANCELLED
        t_round = time.perf_counter()
        main, settings, stats = self.main, self.request.draft, self.stats
        room = main.n_ctx - main.n_cached - 1  # positions left once the last token is in
        if room < 0:
            return StopReason.CONTEXT_FULL
        budget = min(settings.max_draft_size, self.request.max_tokens - self.produced - 1, room)
        drafting = self.source is not None
        proposal, cap, paused = self._draft(budget) if drafting else (None, 0, "")
        drafted = proposal.tokens if proposal is not None else []
        ignored = 0
        if drafted and len(drafted) < settings.min_draft_size:
            ignored, drafted, paused = len(drafted), [], TOO_SHORT
        n = len(drafted)

        base = main.n_cached
        t0 = time.perf_counter()
        main.eval([self.last, *drafted], n_logits=n + 1)
        stats.verify_steps += 1
        rnd = stats.verify_steps
        accepted, nxt, checks, overlap = self._verify(drafted, proposal)
        verify_seconds = time.perf_counter() - t0
        if n > len(accepted):
            main.truncate(base + 1 + len(accepted))
        if drafting:  # counted here, at verification: the stats, the chart, the strip and Auto agree
            stats.add_round(n, len(accepted), ignored)
        if self.observer is not None:
            self.observer(
                RoundReport(
                    rnd,
                    n,
                    len(accepted),
                    len(checks),
                    overlap,
                    proposal.seconds + proposal.catch_up if proposal is not None else 0.0,
                    verify_seconds,
                )
            )

        reason: StopReason | None = None
        for tok in accepted:
            items, reason = self._push(tok, TokenOrigin.DRAFT, rnd)
            yield from items
            if reason is not None:
                break
        if reason is None:
            if n > len(accepted):
                refused = tuple(drafted[len(accepted) :])
                text = b"".join(main.piece(t) for t in refused).decode("utf-8", errors="replace")
                yield from self._mark(DraftRejected(rnd, refused, text))
            items, reason = self._push(nxt, TokenOrigin.MAIN, rnd)
            yield from items
        if drafting:
            yield from self._mark(RoundEvent(rnd, n, len(accepted), cap, paused, ignored))
        self.last = nxt
        steps = proposal.steps if proposal is not None and proposal.from_model else 0
        round_seconds = time.perf_counter() - t_round
        self.clock.record(round_seconds, plain=n == 0 and steps == 0)
        if self.learner is not None and budget > 0:
            if len(accepted) == n and proposal is not None and proposal.held_back is not None:
                checks = [*checks, self.learner.held_back_check(proposal.held_back, nxt, self._last_row)]
            self.learner.round(
                RoundTiming(
                    drafted=n,
                    accepted=len(accepted),
                    model_steps=steps,
                    draft_seconds=proposal.seconds if proposal is not None else 0.0,
                    catch_up=proposal.catch_up if proposal is not None else 0.0,
                    rows=n + 1,
                    verify_seconds=verify_seconds,
                    round_seconds=round_seconds,
                    plain_step=0.0,  # set when taught
                    checks=checks,
                ),
                self.clock,
            )
        return reason

    def _draft(self, budget: int) -> tuple[Proposal | None, int, str]:
        """This round's proposal, the length asked, and why nothing was drafted: the reply's
        limit, a round that measures the speed without the draft, Auto's choice."""
        if budget <= 0:
            return None, 0, REPLY_LIMIT
        cap, paused = self.learner.rule.choose(budget) if self.learner else (budget, "")
        if cap <= 0:
            return None, cap, paused
        if self.clock.wants_plain():
            return None, 0, MEASURING
        proposal, paused = self._propose(cap)
        return proposal, cap, paused

    def _verify(
        self, drafted: list[int], proposal: Proposal | None
    ) -> tuple[list[int], int, list[tuple[float, float]], float]:
        """Check the draft against the main model's rows: (accepted tokens, the main model's
        own next token, (confidence, acceptance chance) per examined token, summed overlap)."""
        if self.on_device is not None:
            confidences = proposal.confidences if proposal is not None else []
            tops = self.on_device.greedy_rows(ahead=self._plain_next(len(drafted)))
            return greedy_verify(tops, drafted, confidences, self._numpy_token)
        found = verify_sampled(
            self.sampler,
            self.main.logits,
            self.sequence,
            proposal,
            drafted,
            measure=self.learner is not None or self.observer is not None,
            overlaps=self.observer is not None,
        )
        self._last_row = found.last_row
        return found.accepted, found.own, found.checks, found.overlap

    def _queue_verify(self, drafted: Any) -> None:
        assert self.on_device is not None
        self.on_device.queue_verify(self.last, drafted)

    def _plain_next(self, drafted: int) -> bool:
        """Whether the next round will most likely evaluate this round's last token alone (no
        draft to run, the reply not at its limit): the model on the device may queue it now."""
        return self.source is None and self.produced + drafted + 1 < self.request.max_tokens

    def _numpy_token(self, row: int) -> int:
        """The numpy sampler's token for a row of the main model's last batch."""
        return self.sampler.sample(self.sampler.distribution(self.main.logits(row)))

    # --- what this reply measured and taught ----------------------------------------------------
    def _conclude(self) -> None:
        """The same-conditions baseline (a reply with a draft measured its own single-token
        steps), and why Auto paused the draft, into the stats."""
        s = self.stats
        if self.had_draft:
            s.baseline_tokens_per_second = self.clock.plain_tokens_per_second
            s.baseline_steps = len(self.clock.counted)
        if self.learner is not None:
            self.learner.conclude(s, self.clock)

    def _remember(self) -> None:
        if self.learner is not None:
            self.learner.remember()

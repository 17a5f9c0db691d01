"""What the speculative benchmark measures, one generation at a time, and the theory it is
held against."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import llama_cpp as ll

from app.core.events import GenerationResult, RoundEvent, TokenEvent
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import DraftSource
from app.engines.llamacpp import LlamaCppModel
from app.engines.mlx import MLXModel
from app.engines.round_report import RoundReport
from app.engines.speculation_memory import SpeculationMemory
from app.engines.speculative import run_generation


@dataclass
class Sample:
    """One reply: decode speed (the reply's own GenerationStats.tokens_per_second: tokens after
    the first over the time after the first, prompt reading excluded, the same measure for
    every contender and the app) and counts."""

    tok_s: float
    tokens: int
    drafted: int
    accepted: int
    sent: int
    verify_steps: int
    examined: int  # drafted tokens the main model checked (accepted + first refused)
    overlap: float  # sum over those of sum_x min(p, q)
    generation_time: float
    text: str
    note: str | None = None
    decode_wall: float = 0.0  # seconds after the first token arrived
    in_llama_decode: float = 0.0  # of which inside llama.cpp's decode (when a clock was given)
    decode_cpu: float = 0.0  # this thread's CPU seconds after the first token (waits excluded)
    in_llama_decode_cpu: float = 0.0  # of which inside llama.cpp's decode
    drafting_rounds: int = 0  # verify steps that checked drafted tokens
    paused: dict[str, int] = field(default_factory=dict)  # rounds that drafted nothing, by why


def generate(
    main: LlamaCppModel | MLXModel,
    draft: DraftSource | None,
    prompt: str,
    max_tokens: int,
    sampling: SamplingSettings,
    settings: DraftSettings,
    memory: SpeculationMemory,
    clock: list[float] | None = None,
) -> Sample:
    """A raw-prompt reply through the app's own loop, from empty caches (every run reads its
    prompt: no prompt cache between contenders)."""
    request = GenerationRequest(prompt=prompt, max_tokens=max_tokens, sampling=sampling, draft=settings)
    tokens = main.prompt_tokens(request)
    main.truncate(0)
    if draft is not None and draft.model is not None:
        draft.model.truncate(0)
    reports: list[RoundReport] = []
    t_first: float | None = None
    count = 0
    result: GenerationResult | None = None
    spent_first = spent_first_cpu = cpu_first = 0.0
    paused: dict[str, int] = {}
    for item in run_generation(main, draft, tokens, request, memory=memory, observer=reports.append):
        if isinstance(item, RoundEvent) and item.paused:
            paused[item.paused] = paused.get(item.paused, 0) + 1
        elif isinstance(item, TokenEvent) and item.token_id >= 0:
            if t_first is None:
                t_first, cpu_first = time.perf_counter(), time.thread_time()
                spent_first = clock[0] if clock else 0.0
                spent_first_cpu = clock[1] if clock else 0.0
            count += 1
        elif isinstance(item, GenerationResult):
            result = item
    t_end, cpu_end = time.perf_counter(), time.thread_time()
    assert result is not None
    if result.error:
        raise RuntimeError(result.error)
    s = result.stats
    return Sample(
        tok_s=s.tokens_per_second,
        tokens=count,
        drafted=s.total_draft_tokens_count,
        accepted=s.accepted_draft_tokens_count,
        sent=s.accepted_draft_tokens_count + s.rejected_draft_tokens_count,
        verify_steps=s.verify_steps,
        examined=sum(r.examined for r in reports),
        overlap=sum(r.overlap for r in reports),
        generation_time=s.generation_time,
        text=result.text,
        note=s.draft_note,
        decode_wall=t_end - t_first if t_first else 0.0,
        in_llama_decode=(clock[0] - spent_first) if clock else 0.0,
        decode_cpu=cpu_end - cpu_first if t_first else 0.0,
        in_llama_decode_cpu=(clock[1] - spent_first_cpu) if clock else 0.0,
        drafting_rounds=sum(r.drafted > 0 for r in reports),
        paused=paused,
    )


@dataclass
class Series:
    """The samples of one configuration."""

    samples: list[Sample] = field(default_factory=list)

    def add(self, s: Sample) -> None:
        self.samples.append(s)

    @property
    def tok_s(self) -> float:
        return statistics.median(s.tok_s for s in self.samples)

    def summary(self) -> dict[str, float | int | None]:
        rows = self.samples
        sent = sum(r.sent for r in rows)
        examined = sum(r.examined for r in rows)
        tokens = sum(r.tokens for r in rows)
        out: dict[str, float | int | None] = {"tok_s": round(self.tok_s, 2), "replies": len(rows)}
        if any(r.drafted for r in rows) or sent:
            out["acceptance"] = round(sum(r.accepted for r in rows) / sent, 3) if sent else None
            out["acceptance_per_examined_token"] = (
                round(sum(r.accepted for r in rows) / examined, 3) if examined else None
            )
            out["mean_sum_min_p_q"] = round(sum(r.overlap for r in rows) / examined, 3) if examined else None
            out["drafted_per_token"] = round(sum(r.drafted for r in rows) / tokens, 3)
        out["tokens_per_verify_step"] = round(tokens / max(1, sum(r.verify_steps for r in rows)), 3)
        return out


def paired_ratios(a: Series, b: Series) -> list[float]:
    """a's speed over b's, reply by reply: the two series were run interleaved (Bench.run),
    so their i-th replies share a prompt, a length and a minute of the machine. A series
    run in the first repeats only (Bench.run's `once`) pairs with b's replies of those."""
    return [x.tok_s / y.tok_s for x, y in zip(a.samples, b.samples[: len(a.samples)], strict=True)]


def leviathan_bound(alpha: float, k: int, cost_ratio: float, verify_ratio: float = 1.0) -> float:
    """Expected speed-up of k drafted tokens at per-token acceptance alpha, a draft step
    costing `cost_ratio` main steps and a verify of k+1 rows `verify_ratio` main steps
    (Leviathan et al. 2023 take it as 1)."""
    a = min(max(alpha, 0.0), 0.9999)
    return (1 - a ** (k + 1)) / ((1 - a) * (k * cost_ratio + verify_ratio))


def verify_cost(
    main: LlamaCppModel, prompt_tokens: list[int], rows: list[int], reps: int = 3
) -> dict[int, float]:
    """Seconds to evaluate a batch of n tokens with logits for all n, after a prompt."""
    out: dict[int, float] = {}
    main.truncate(0)
    main.eval(prompt_tokens, 1)
    base = main.n_cached
    filler = (prompt_tokens * 20)[: max(rows)]
    for n in rows:
        main.eval(filler[:n], n)  # the first run of a batch size sets it up
        main.truncate(base)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            main.eval(filler[:n], n)
            main.logits(n - 1)
            times.append(time.perf_counter() - t0)
            main.truncate(base)
        out[n] = statistics.median(times)
    return out


@contextlib.contextmanager
def decode_clock() -> Iterator[list[float]]:
    """Time spent inside llama.cpp's decode (and logits synchronisation) while active: wall
    seconds, and this thread's CPU seconds (with one thread, llama.cpp computes on it)."""
    spent = [0.0, 0.0]
    originals = {
        name: getattr(ll, name) for name in ("llama_decode", "llama_get_logits_ith", "llama_get_logits")
    }

    def timed(fn: Any) -> Any:
        def call(*args: object) -> object:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args)
            finally:
                spent[0] += time.perf_counter() - t0
                spent[1] += time.thread_time() - c0

        return call

    for name, fn in originals.items():
        setattr(ll, name, timed(fn))
    try:
        yield spent
    finally:
        for name, fn in originals.items():
            setattr(ll, name, fn)

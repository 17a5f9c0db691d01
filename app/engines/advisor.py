"""Draft advisor: a short benchmark of every candidate draft (and of no draft) for a main
model, on a few standard prompts, so the user can pick the draft that actually helps here.

Runs wherever it is called (the GUI calls it off its thread); reports progress and stops
between runs when cancelled. Timing is decode speed only (after the prompt), measured the
same way for every candidate, in one run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.events import GenerationResult, TokenEvent
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME, PromptLookupDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.loader import LoadedModel, load_any
from app.engines.mlx import MLXModel
from app.engines.speculative import CancelFlag

ADVISOR_PROMPTS = {
    "code": "Write a Python function that returns the n-th Fibonacci number.\n\ndef fibonacci(n):\n",
    "prose": "The history of the printing press begins in",
    "list": "A shopping list for a week of healthy meals:\n1.",
}
NO_DRAFT = ""
MIN_GAIN = 1.02  # a draft must beat no draft by 2% to be recommended


@dataclass
class Candidate:
    key: str  # library key, PROMPT_LOOKUP_KEY, or NO_DRAFT
    name: str
    path: Path | None = None


@dataclass
class AdvisorResult:
    key: str
    name: str
    tokens_per_second: float
    acceptance: float | None
    speedup: float = 1.0

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Advice:
    results: list[AdvisorResult]
    recommended: AdvisorResult | None
    cancelled: bool = False

    @property
    def summary(self) -> str:
        if self.cancelled:
            return "Stopped before every draft was measured."
        if self.recommended is None:
            return "No draft made this model faster here: keep speculative decoding off (or on Auto)."
        r = self.recommended
        return f"Recommended: {r.name}, {r.speedup:.2f}x the speed without a draft."


@dataclass
class DecodeTiming:
    tokens_per_second: float  # tokens after the first, over the time after the first arrived
    tokens: int
    result: GenerationResult | None


def measure_decode(
    main: LoadedModel, request: GenerationRequest, draft: object | None = None
) -> DecodeTiming:
    """Run one generation from an empty cache and time its decoding, prompt reading excluded:
    the same measure for every contender (the advisor and the benchmarks use it)."""
    main.truncate(0)
    t_first: float | None = None
    count = 0
    result: GenerationResult | None = None
    for item in main.generate(request, draft=draft):
        if isinstance(item, TokenEvent):
            t_first = t_first or time.perf_counter()
            count += 1
        elif isinstance(item, GenerationResult):
            result = item
    t_end = time.perf_counter()
    tps = (count - 1) / (t_end - t_first) if t_first and count > 1 and t_end > t_first else 0.0
    return DecodeTiming(tps, count, result)


def _decode(
    main: LoadedModel, draft: object | None, prompt: str, settings: DraftSettings, max_tokens: int
) -> tuple[float, int, int]:
    request = GenerationRequest(
        prompt=prompt,
        max_tokens=max_tokens,
        draft=settings,
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
    )
    timing = measure_decode(main, request, draft)
    s = timing.result.stats if timing.result else None
    sent = (s.accepted_draft_tokens_count + s.rejected_draft_tokens_count) if s else 0
    return timing.tokens_per_second, (s.accepted_draft_tokens_count if s else 0), sent


def advise(
    main_path: Path,
    candidates: list[Candidate],
    settings: DraftSettings,
    max_tokens: int = 48,
    n_ctx: int = 2048,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelFlag | None = None,
) -> Advice:
    """Measure no draft and each candidate on ADVISOR_PROMPTS; best first."""
    options = LoadOptions(n_ctx=n_ctx)
    main = load_any(main_path, options)
    everyone = [Candidate(NO_DRAFT, "No draft"), *candidates]
    total = len(everyone) * len(ADVISOR_PROMPTS)
    done = 0
    results: list[AdvisorResult] = []
    cancelled = False
    try:
        for cand in everyone:
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
            draft: object | None = None
            if cand.key == PROMPT_LOOKUP_KEY:
                draft = PromptLookupDraft()
            elif cand.key != NO_DRAFT and cand.path is not None:
                draft = load_any(cand.path, options)
            speeds, accepted, sent = [], 0, 0
            try:
                for prompt in ADVISOR_PROMPTS.values():
                    if cancel is not None and cancel.is_set():
                        cancelled = True
                        break
                    tps, acc, snt = _decode(main, draft, prompt, settings, max_tokens)
                    speeds.append(tps)
                    accepted += acc
                    sent += snt
                    done += 1
                    if progress:
                        progress(done, total)
            finally:
                if isinstance(draft, (LlamaCppModel, MLXModel)):
                    draft.close()
            if cancelled:
                break
            results.append(
                AdvisorResult(
                    cand.key,
                    cand.name,
                    round(statistics.median(speeds), 2),
                    round(accepted / sent, 3) if sent else None,
                )
            )
    finally:
        main.close()
    base = next((r.tokens_per_second for r in results if r.key == NO_DRAFT), 0.0)
    for r in results:
        r.speedup = round(r.tokens_per_second / base, 3) if base else 1.0
    results.sort(key=lambda r: -r.tokens_per_second)
    best = next((r for r in results if r.key != NO_DRAFT), None)
    recommended = best if best is not None and best.speedup >= MIN_GAIN and not cancelled else None
    return Advice(results, recommended, cancelled)


def prompt_lookup_candidate() -> Candidate:
    return Candidate(PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME)

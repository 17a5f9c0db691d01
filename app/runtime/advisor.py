"""Draft advisor: a short benchmark of every candidate draft (and of no draft) for a main
model, on a few standard prompts, so the user can pick the draft that actually helps here.

It goes through the model runtime like every other caller: the models the chat (or the
server) has loaded are measured as they are, never loaded a second time; a draft it had to
load itself is freed once measured. Each candidate is measured under its own lease, so a
chat reply or a server request can take its turn in between. It runs wherever it is called
(the GUI calls it off its thread), reports progress and stops between runs when cancelled.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.engines.timing import measure_decode
from app.runtime.errors import ClientGoneError
from app.runtime.lease import CancelFlag, Lease
from app.runtime.runtime import ModelRuntime

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


def _decode(lease: Lease, prompt: str, settings: DraftSettings, max_tokens: int) -> tuple[float, int, int]:
    request = GenerationRequest(
        prompt=prompt,
        max_tokens=max_tokens,
        draft=settings,
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
    )
    timing = measure_decode(lease.main, request, lease.draft)
    s = timing.result.stats if timing.result else None
    sent = (s.accepted_draft_tokens_count + s.rejected_draft_tokens_count) if s else 0
    return timing.tokens_per_second, (s.accepted_draft_tokens_count if s else 0), sent


def _measure(
    runtime: ModelRuntime,
    main_key: str,
    cand: Candidate,
    settings: DraftSettings,
    max_tokens: int,
    stopped: Callable[[], bool],
    cancel: CancelFlag | None,
    measured_one: Callable[[], None],
) -> tuple[list[float], int, int] | None:
    """Median-ready speeds, accepted and sent draft tokens of one candidate on every prompt,
    or None when cancelled midway. A draft model it had to load is freed afterwards."""
    draft_key = runtime.resolve(cand.key).key if cand.key not in (NO_DRAFT, PROMPT_LOOKUP_KEY) else None
    had_draft = draft_key is not None and draft_key in runtime.loaded_keys()
    speeds: list[float] = []
    accepted = sent = 0
    try:
        with runtime.lease(main_key, cand.key or None, cancel=cancel, max_waiting=None) as lease:
            for prompt in ADVISOR_PROMPTS.values():
                if stopped():
                    return None
                tps, acc, snt = _decode(lease, prompt, settings, max_tokens)
                speeds.append(tps)
                accepted += acc
                sent += snt
                measured_one()
    finally:
        if draft_key is not None and not had_draft:
            runtime.evict(draft_key, wait=False)
    return speeds, accepted, sent


def advise(
    runtime: ModelRuntime,
    main_key: str,
    candidates: list[Candidate],
    settings: DraftSettings,
    max_tokens: int = 48,
    progress: Callable[[int, int], None] | None = None,
    cancel: CancelFlag | None = None,
) -> Advice:
    """Measure no draft and each candidate on ADVISOR_PROMPTS; best first."""
    everyone = [Candidate(NO_DRAFT, "No draft"), *candidates]
    total = len(everyone) * len(ADVISOR_PROMPTS)
    done = 0
    results: list[AdvisorResult] = []
    cancelled = False

    def stopped() -> bool:
        return cancel is not None and cancel.is_set()

    def measured_one() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    main_ref = runtime.resolve(main_key)
    had_main = main_ref.key in runtime.loaded_keys()
    try:
        for cand in everyone:
            if stopped():
                cancelled = True
                break
            try:
                measured = _measure(
                    runtime, main_ref.key, cand, settings, max_tokens, stopped, cancel, measured_one
                )
            except ClientGoneError:  # cancelled while a chat reply or a request held the model
                measured = None
            if measured is None:
                cancelled = True
                break
            speeds, accepted, sent = measured
            results.append(
                AdvisorResult(
                    cand.key,
                    cand.name,
                    round(statistics.median(speeds), 2),
                    round(accepted / sent, 3) if sent else None,
                )
            )
    finally:
        if not had_main:
            runtime.evict(main_ref.key, wait=False)
    base = next((r.tokens_per_second for r in results if r.key == NO_DRAFT), 0.0)
    for r in results:
        r.speedup = round(r.tokens_per_second / base, 3) if base else 1.0
    results.sort(key=lambda r: -r.tokens_per_second)
    best = next((r for r in results if r.key != NO_DRAFT), None)
    recommended = best if best is not None and best.speedup >= MIN_GAIN and not cancelled else None
    return Advice(results, recommended, cancelled)


def prompt_lookup_candidate() -> Candidate:
    return Candidate(PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME)


def library_candidates(runtime: ModelRuntime, main_key: str) -> list[Candidate]:
    """Prompt lookup and every compatible draft in the library, from the cached index."""
    report = runtime.index.drafts_for(main_key)
    return [prompt_lookup_candidate()] + [
        Candidate(o.entry.key, o.entry.name, Path(o.entry.path)) for o in report.compatible
    ]

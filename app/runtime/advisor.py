"""Draft advisor: a short benchmark of every candidate draft (and of no draft) for a main
model, on a few standard prompts, so the user can pick the draft that actually helps here.

It goes through the model runtime like every other caller: the models the chat (or the
server) has loaded are measured as they are, never loaded a second time; a draft it had to
load itself is freed once measured. Each candidate is measured under its own lease, so a
chat reply or a server request can take its turn in between. It runs wherever it is called
(the GUI calls it off its thread), reports progress and stops between runs when cancelled.

Speeds on a shared computer wander: no draft is measured first and again last, and the gap
between the two runs is the noise. A draft is recommended only when its gain exceeds that
noise (and MIN_GAIN) and the main model accepted some of its tokens; otherwise the advice is
"No draft". What was measured is remembered (`AdviceRecords`), so the draft dropdowns can
warn about a draft measured as no faster.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.engines.timing import measure_decode
from app.library.atomic import read_cache, write_json_atomic
from app.library.paths import cache_dir
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
    recommended: AdvisorResult | None  # None: no draft (or cancelled)
    cancelled: bool = False
    noise: float = 0.0  # how far two runs without a draft differed (0.04: 4%)

    @property
    def summary(self) -> str:
        if self.cancelled:
            return "Stopped before every draft was measured."
        noise = f" (measurement noise here: ±{100 * self.noise:.0f}%)" if self.noise else ""
        if self.recommended is None:
            return (
                "Recommended: No draft. No draft made this model faster by more than the "
                f"measurement noise{noise}."
            )
        r = self.recommended
        return f"Recommended: {r.name}, {r.speedup:.2f}x the speed without a draft{noise}."

    def no_faster(self) -> dict[str, str]:
        """Drafts measured as no faster than none: key -> why, for the dropdowns' warnings."""
        if self.cancelled:
            return {}
        bar = gain_needed(self.noise)
        return {
            r.key: f"measured {r.speedup:.2f}x without a draft: no faster here"
            for r in self.results
            if r.key != NO_DRAFT and not (r.speedup >= bar and (r.acceptance or 0) > 0)
        }


def gain_needed(noise: float) -> float:
    """The speed-up a draft must reach to count as faster: past MIN_GAIN and the noise."""
    return max(MIN_GAIN, 1.0 + noise)


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
    total = (len(everyone) + 1) * len(ADVISOR_PROMPTS)  # no draft again at the end: the noise
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
    baseline: list[list[float]] = []
    try:
        for cand in [*everyone, everyone[0]]:
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
            if cand.key == NO_DRAFT:
                baseline.append(speeds)
                if len(baseline) == 2:
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
        if not had_main:
            runtime.evict(main_ref.key, wait=False)
    noise = _noise(baseline)
    if len(baseline) == 2 and results and results[0].key == NO_DRAFT:  # both runs make the baseline
        both = [statistics.mean(pair) for pair in zip(*baseline, strict=True)]
        results[0].tokens_per_second = round(statistics.median(both), 2)
    base = next((r.tokens_per_second for r in results if r.key == NO_DRAFT), 0.0)
    for r in results:
        r.speedup = round(r.tokens_per_second / base, 3) if base else 1.0
    results.sort(key=lambda r: -r.tokens_per_second)
    return Advice(results, None if cancelled else recommend(results, noise), cancelled, round(noise, 3))


def recommend(results: list[AdvisorResult], noise: float) -> AdvisorResult | None:
    """The fastest draft whose gain exceeds the noise and whose tokens the main model
    accepted (a draft that never gets a token accepted cannot be faster: its "gain" is
    noise); None for No draft."""
    bar = gain_needed(noise)
    ranked = sorted(results, key=lambda r: -r.tokens_per_second)
    return next(
        (r for r in ranked if r.key != NO_DRAFT and r.speedup >= bar and (r.acceptance or 0) > 0), None
    )


def _noise(baseline: list[list[float]]) -> float:
    """The largest relative gap between the two no-draft runs of one prompt."""
    if len(baseline) < 2:
        return 0.0
    gaps = [abs(a - b) / max((a + b) / 2, 1e-9) for a, b in zip(*baseline, strict=True)]
    return max(gaps, default=0.0)


def prompt_lookup_candidate() -> Candidate:
    return Candidate(PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME)


def library_candidates(runtime: ModelRuntime, main_key: str) -> list[Candidate]:
    """Prompt lookup and every compatible draft in the library, from the cached index."""
    report = runtime.index.drafts_for(main_key)
    return [prompt_lookup_candidate()] + [
        Candidate(o.entry.key, o.entry.name, Path(o.entry.path)) for o in report.compatible
    ]


class AdviceRecords:
    """What the advisor measured per main model, kept across sessions so a draft measured as
    no faster carries a warning wherever drafts are listed."""

    SCHEMA = 1

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "draft-advice.json"
        self._data: dict[str, dict] = read_cache(
            self.path, self.SCHEMA, "models", valid=lambda v: isinstance(v, dict)
        )

    def remember(self, main_key: str, advice: Advice) -> None:
        if advice.cancelled:
            return
        self._data[main_key] = {
            "when": time.time(),
            "noise": advice.noise,
            "no_faster": advice.no_faster(),
            "results": [r.to_json() for r in advice.results],
        }
        # a cache: if it cannot be written, the warning is lost for the next session, nothing else
        with contextlib.suppress(OSError):
            write_json_atomic(self.path, {"schema": self.SCHEMA, "models": self._data})

    def no_faster(self, main_key: str) -> dict[str, str]:
        """Draft key -> why it is measured as no faster, for `main_key`."""
        value = self._data.get(main_key, {}).get("no_faster")
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v) for k, v in value.items()}

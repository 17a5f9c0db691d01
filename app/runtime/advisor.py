"""Draft advisor: a short benchmark of every candidate draft (and of no draft) for a main
model, on a few standard prompts, so the user can pick the draft that actually helps here.

It goes through the model runtime like every other caller: the models the chat (or the
server) has loaded are measured as they are, never loaded a second time; a draft it had to
load itself is freed once measured. Each candidate is measured under its own lease, so a
chat reply or a server request can take its turn in between. It runs wherever it is called
(the GUI calls it off its thread), reports what it measures and stops within a decoding
step when cancelled.

Like with like: speeds on a shared computer wander, so a draft is compared with no draft
measured under the same conditions: a no-draft run just before and just after each draft's
runs (interleaved: B D1 B D2 B ...). A draft's speed-up is over the mean of the two runs
around it, and how far those two differ is its noise band. A draft is recommended only when
its gain clears that band (and MIN_GAIN) and the main model accepted some of its tokens;
otherwise the advice is "No draft". What was measured is remembered (`AdviceRecords`), so
the draft dropdowns can warn about a draft measured as no faster.
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
NO_DRAFT_NAME = "No draft"
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
    speedup: float = 1.0  # over the no-draft runs just before and after this draft's
    noise: float = 0.0  # how far those two no-draft runs differed (0.04: 4%)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @property
    def within_noise(self) -> bool:
        """A gain (or loss) no larger than the conditions moved while it was measured."""
        return abs(self.speedup - 1.0) <= max(self.noise, MIN_GAIN - 1.0)

    @property
    def faster(self) -> bool:
        return self.key != NO_DRAFT and self.speedup >= gain_needed(self.noise) and (self.acceptance or 0) > 0


@dataclass(frozen=True)
class AdvisorStep:
    """Where the advisor is: runs done of the total, and the run in progress."""

    done: int
    total: int
    doing: str  # "Tiny twin on prose" / "No draft (the speed to beat)"; "" when done


@dataclass
class Advice:
    results: list[AdvisorResult]
    recommended: AdvisorResult | None  # None: no draft (or cancelled)
    cancelled: bool = False
    noise: float = 0.0  # the largest noise band of any draft measured

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
        band = f" ±{100 * r.noise:.0f}%" if r.noise else ""
        return f"Recommended: {r.name}, {r.speedup:.2f}x{band} the speed without a draft measured alongside."

    def no_faster(self) -> dict[str, str]:
        """Drafts measured as no faster than none: key -> why, for the dropdowns' warnings."""
        if self.cancelled:
            return {}
        return {
            r.key: f"measured {r.speedup:.2f}x without a draft: no faster here"
            for r in self.results
            if r.key != NO_DRAFT and not r.faster
        }


def gain_needed(noise: float) -> float:
    """The speed-up a draft must reach to count as faster: past MIN_GAIN and the noise."""
    return max(MIN_GAIN, 1.0 + noise)


def _decode(
    lease: Lease, prompt: str, settings: DraftSettings | None, max_tokens: int, cancel: CancelFlag | None
) -> tuple[float, int, int]:
    """One run from an empty cache: its decode speed, accepted and sent draft tokens.
    `settings` None: no draft (the main model alone, under the same lease)."""
    request = GenerationRequest(
        prompt=prompt,
        max_tokens=max_tokens,
        draft=settings or DraftSettings(),
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
    )
    timing = measure_decode(lease.main, request, lease.draft if settings else None, cancel=cancel)
    s = timing.result.stats if timing.result else None
    sent = (s.accepted_draft_tokens_count + s.rejected_draft_tokens_count) if s else 0
    return timing.tokens_per_second, (s.accepted_draft_tokens_count if s else 0), sent


class _Run:
    """One advisor run: the interleaved no-draft runs and each candidate's runs."""

    def __init__(
        self,
        runtime: ModelRuntime,
        main_key: str,
        settings: DraftSettings,
        max_tokens: int,
        total: int,
        progress: Callable[[AdvisorStep], None] | None,
        cancel: CancelFlag | None,
    ) -> None:
        self.runtime, self.main_key, self.settings = runtime, main_key, settings
        self.max_tokens, self.total, self.progress, self.cancel = max_tokens, total, progress, cancel
        self.done = 0
        self.baselines: list[float] = []  # the no-draft runs, in order

    def stopped(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _step(self, doing: str) -> None:
        if self.progress:
            self.progress(AdvisorStep(self.done, self.total, doing))

    def baseline(self, lease: Lease) -> bool:
        """One no-draft run (prompts in turn); False when cancelled."""
        name, prompt = list(ADVISOR_PROMPTS.items())[len(self.baselines) % len(ADVISOR_PROMPTS)]
        self._step(f"{NO_DRAFT_NAME} on {name} (the speed to beat, measured between drafts)")
        tps, _acc, _sent = _decode(lease, prompt, None, self.max_tokens, self.cancel)
        if self.stopped():
            return False
        self.baselines.append(tps)
        self.done += 1
        return True

    def candidate(self, cand: Candidate) -> AdvisorResult | None:
        """The candidate's runs, with a no-draft run after them (and before, for the first);
        None when cancelled midway. A draft model it had to load is freed afterwards."""
        runtime = self.runtime
        draft_key = runtime.resolve(cand.key).key if cand.key not in (NO_DRAFT, PROMPT_LOOKUP_KEY) else None
        had_draft = draft_key is not None and draft_key in runtime.loaded_keys()
        speeds: list[float] = []
        accepted = sent = 0
        try:
            lease_of = runtime.lease(self.main_key, cand.key or None, cancel=self.cancel, max_waiting=None)
            with lease_of as lease:
                if not self.baselines and not self.baseline(lease):
                    return None
                for name, prompt in ADVISOR_PROMPTS.items():
                    if self.stopped():
                        return None
                    self._step(f"{cand.name} on {name}")
                    tps, acc, snt = _decode(lease, prompt, self.settings, self.max_tokens, self.cancel)
                    if self.stopped():
                        return None
                    speeds.append(tps)
                    accepted += acc
                    sent += snt
                    self.done += 1
                if not self.baseline(lease):
                    return None
        finally:
            if draft_key is not None and not had_draft:
                runtime.evict(draft_key, wait=False)
        before, after = self.baselines[-2], self.baselines[-1]
        base = (before + after) / 2
        speed = statistics.median(speeds)
        return AdvisorResult(
            cand.key,
            cand.name,
            round(speed, 2),
            round(accepted / sent, 3) if sent else None,
            speedup=round(speed / base, 3) if base > 0 else 1.0,
            noise=round(abs(before - after) / base, 3) if base > 0 else 0.0,
        )

    def lone_baseline(self) -> None:
        """No candidate: no draft alone, for its speed."""
        with self.runtime.lease(self.main_key, None, cancel=self.cancel, max_waiting=None) as lease:
            self.baseline(lease)


def advise(
    runtime: ModelRuntime,
    main_key: str,
    candidates: list[Candidate],
    settings: DraftSettings,
    max_tokens: int = 48,
    progress: Callable[[AdvisorStep], None] | None = None,
    cancel: CancelFlag | None = None,
) -> Advice:
    """Measure each candidate between two no-draft runs; best first."""
    total = len(candidates) * len(ADVISOR_PROMPTS) + len(candidates) + 1
    main_ref = runtime.resolve(main_key)
    had_main = main_ref.key in runtime.loaded_keys()
    run = _Run(runtime, main_ref.key, settings, max_tokens, total, progress, cancel)
    results: list[AdvisorResult] = []
    cancelled = False
    try:
        for cand in candidates:
            if run.stopped():
                cancelled = True
                break
            try:
                result = run.candidate(cand)
            except ClientGoneError:  # cancelled while a chat reply or a request held the model
                result = None
            if result is None:
                cancelled = True
                break
            results.append(result)
        if not candidates and not run.stopped():
            with contextlib.suppress(ClientGoneError):
                run.lone_baseline()
        cancelled = cancelled or run.stopped()
    finally:
        if not had_main:
            runtime.evict(main_ref.key, wait=False)
    if run.baselines:
        plain = round(statistics.median(run.baselines), 2)
        results.append(AdvisorResult(NO_DRAFT, NO_DRAFT_NAME, plain, None))
    if progress:
        progress(AdvisorStep(run.done, total, ""))
    results.sort(key=lambda r: -r.speedup)
    noise = max((r.noise for r in results), default=0.0)
    return Advice(results, None if cancelled else recommend(results), cancelled, round(noise, 3))


def recommend(results: list[AdvisorResult]) -> AdvisorResult | None:
    """The draft with the largest speed-up that clears its noise band and whose tokens the
    main model accepted (a draft that never gets a token accepted cannot be faster: its
    "gain" is noise); None for No draft."""
    ranked = sorted(results, key=lambda r: -r.speedup)
    return next((r for r in ranked if r.faster), None)


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

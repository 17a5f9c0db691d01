"""The draft advisor goes through the runtime: the models already loaded are measured as they
are (never a second copy), drafts it loaded itself are freed, and cancel stops it."""

from __future__ import annotations

import threading

import app.engines.loader as loader
from app.core.events import GenerationResult, GenerationStats
from app.core.request import DraftSettings
from app.engines import timing
from app.engines.timing import DecodeTiming
from app.runtime import advisor
from app.runtime.advisor import (
    NO_DRAFT,
    AdvisorStep,
    Candidate,
    advise,
    library_candidates,
    prompt_lookup_candidate,
)
from tests.runtime.conftest import MAIN, NOISY, OTHER, TWIN


def count_loads(monkeypatch) -> list[str]:
    loads: list[str] = []
    original = loader.load_any

    def counting(path, options=None):
        loads.append(str(path))
        return original(path, options)

    monkeypatch.setattr("app.runtime.runtime.load_any", counting)
    return loads


def test_advisor_measures_every_candidate_with_the_loaded_models(runtime, monkeypatch):
    runtime.load(MAIN, pin=True)  # the chat's main model
    with runtime.lease(MAIN, TWIN) as lease:  # and its draft
        chat_main, chat_draft = lease.main, lease.draft.model
    loads = count_loads(monkeypatch)
    seen: list[AdvisorStep] = []
    candidates = library_candidates(runtime, MAIN)
    # smallest first, the draft with another tokenizer (through translation) after them
    assert [c.key for c in candidates] == ["prompt-lookup", NOISY, TWIN, OTHER]
    candidates = candidates[:3]
    advice = advise(
        runtime,
        MAIN,
        candidates,
        DraftSettings(max_draft_size=4, p_min=0.0, auto=False),
        max_tokens=12,
        progress=seen.append,
    )
    assert sorted(r.key for r in advice.results) == sorted([NO_DRAFT, TWIN, NOISY, "prompt-lookup"])
    ups = [r.speedup for r in advice.results]
    assert ups == sorted(ups, reverse=True)
    assert all(r.tokens_per_second > 0 for r in advice.results)
    assert next(r for r in advice.results if r.key == TWIN).acceptance == 1.0
    # 3 runs per draft and a no-draft run before and after each: 13, each said as it starts
    assert [st.done for st in seen] == list(range(14))
    assert {st.total for st in seen} == {13}
    assert seen[0].doing.startswith("No draft on code")
    assert seen[1].doing == "Prompt lookup (no draft model) on code"
    assert seen[-1].doing == ""  # done
    assert advice.summary
    assert [p.rsplit("/", 1)[-1] for p in loads] == ["noisy.gguf"]  # only what was not loaded yet
    assert runtime.loaded_keys() == {MAIN, TWIN}  # the draft it loaded is freed again
    with runtime.lease(MAIN, TWIN) as lease:
        assert lease.main is chat_main
        assert lease.draft.model is chat_draft


def record_runs(monkeypatch, speed=None) -> list[str]:
    """Each run the advisor makes, "B" (no draft) or "D" (a draft); `speed(i, drafted)` fakes
    the i-th run's speed (the draft's tokens all accepted)."""
    runs: list[str] = []

    def measuring(main, request, draft=None, **kw):
        runs.append("D" if draft is not None else "B")
        if speed is None:
            return timing.measure_decode(main, request, draft, **kw)
        stats = GenerationStats(accepted_draft_tokens_count=8 if draft else 0)
        return DecodeTiming(speed(len(runs) - 1, draft is not None), 12, GenerationResult("x", stats))

    monkeypatch.setattr(advisor, "measure_decode", measuring)
    return runs


def test_each_draft_is_measured_between_two_no_draft_runs(runtime, monkeypatch):
    runs = record_runs(monkeypatch)
    candidates = [prompt_lookup_candidate(), Candidate(TWIN, "twin")]
    advice = advise(runtime, MAIN, candidates, DraftSettings(auto=False), max_tokens=8)
    assert "".join(runs) == "BDDDBDDDB"
    assert all(r.noise >= 0 for r in advice.results)


def test_a_machine_that_slows_down_midway_makes_no_draft_look_faster(runtime, monkeypatch):
    """The machine gets twice as slow from the 6th run on (a busy process starts), and no
    draft is faster than no draft: each draft reads about 1x against the runs around it, the
    one measured while it changed within its noise band, and none is recommended."""
    record_runs(monkeypatch, speed=lambda i, _drafted: 100.0 if i < 5 else 50.0)
    candidates = [prompt_lookup_candidate(), Candidate(TWIN, "twin"), Candidate(NOISY, "noisy")]
    advice = advise(runtime, MAIN, candidates, DraftSettings(auto=False), max_tokens=8)
    ups = {r.key: r for r in advice.results}
    assert ups["prompt-lookup"].speedup == 1.0
    assert ups[NOISY].speedup == 1.0
    straddling = ups[TWIN]
    assert straddling.noise > 0.5
    assert straddling.within_noise
    assert advice.recommended is None
    assert all(not r.faster for r in advice.results)


def test_a_draft_faster_here_and_now_is_recommended_with_its_band(runtime, monkeypatch):
    record_runs(monkeypatch, speed=lambda i, drafted: (150.0 if drafted else 100.0) * (1 + 0.01 * i))
    advice = advise(runtime, MAIN, [Candidate(TWIN, "twin")], DraftSettings(auto=False), max_tokens=8)
    assert advice.recommended is not None
    assert advice.recommended.key == TWIN
    assert 1.4 < advice.recommended.speedup < 1.6
    assert 0 < advice.recommended.noise < 0.05
    assert "±" in advice.summary


def test_cancel_stops_within_a_run(runtime):
    """Cancel answers within a decoding step, not after the run (or the lease) it came in."""
    cancel = threading.Event()
    tokens: list[int] = []
    original = timing.measure_decode

    def cancelled_as_it_starts(main, request, draft=None, **kw):
        cancel.set()
        t = original(main, request, draft, **kw)
        tokens.append(t.tokens)
        return t

    advisor.measure_decode = cancelled_as_it_starts
    try:
        twin = [Candidate(TWIN, "twin")]
        advice = advise(runtime, MAIN, twin, DraftSettings(auto=False), max_tokens=40, cancel=cancel)
    finally:
        advisor.measure_decode = original
    assert advice.cancelled
    assert tokens == [0]  # the first run stopped before it made a token; no other run began


def test_advisor_frees_a_main_model_it_had_to_load(runtime):
    advise(runtime, MAIN, [prompt_lookup_candidate()], DraftSettings(auto=False), max_tokens=4)
    assert runtime.loaded() == []


def test_advisor_stops_when_cancelled(runtime):
    cancel = threading.Event()
    cancel.set()
    advice = advise(runtime, MAIN, [Candidate(TWIN, "twin")], DraftSettings(), cancel=cancel)
    assert advice.cancelled
    assert advice.recommended is None
    assert advice.results == []


def test_advisor_waiting_for_a_busy_model_can_be_cancelled(runtime):
    runtime.load(MAIN)
    cancel = threading.Event()
    entered, leave = threading.Event(), threading.Event()

    def chat_reply() -> None:
        with runtime.lease(MAIN):
            entered.set()
            leave.wait(30)

    holder = threading.Thread(target=chat_reply)
    holder.start()
    assert entered.wait(30)
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    advice = advise(runtime, MAIN, [], DraftSettings(), cancel=cancel)
    leave.set()
    holder.join(30)
    assert advice.cancelled
    assert advice.results == []

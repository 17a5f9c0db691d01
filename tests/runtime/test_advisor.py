"""The draft advisor goes through the runtime: the models already loaded are measured as they
are (never a second copy), drafts it loaded itself are freed, and cancel stops it."""

from __future__ import annotations

import threading

import app.engines.loader as loader
from app.core.request import DraftSettings
from app.runtime.advisor import NO_DRAFT, Candidate, advise, library_candidates, prompt_lookup_candidate
from tests.runtime.conftest import MAIN, NOISY, OTHER, TWIN


def count_loads(monkeypatch) -> list[str]:
    loads: list[str] = []
    original = loader.load_ref

    def counting(ref, options=None):
        loads.append(str(ref.path))
        return original(ref, options)

    monkeypatch.setattr("app.runtime.runtime.load_ref", counting)
    return loads


def test_advisor_measures_every_candidate_with_the_loaded_models(runtime, monkeypatch):
    runtime.load(MAIN, pin=True)  # the chat's main model
    with runtime.lease(MAIN, TWIN) as lease:  # and its draft
        chat_main, chat_draft = lease.main, lease.draft.model
    loads = count_loads(monkeypatch)
    seen: list[tuple[int, int]] = []
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
        progress=lambda d, t: seen.append((d, t)),
    )
    assert sorted(r.key for r in advice.results) == sorted([NO_DRAFT, TWIN, NOISY, "prompt-lookup"])
    speeds = [r.tokens_per_second for r in advice.results]
    assert speeds == sorted(speeds, reverse=True)
    assert all(s > 0 for s in speeds)
    assert next(r for r in advice.results if r.key == TWIN).acceptance == 1.0
    assert seen[-1] == (15, 15)
    assert [d for d, _ in seen] == list(range(1, 16))
    assert advice.summary
    assert [p.rsplit("/", 1)[-1] for p in loads] == ["noisy.gguf"]  # only what was not loaded yet
    assert runtime.loaded_keys() == {MAIN, TWIN}  # the draft it loaded is freed again
    with runtime.lease(MAIN, TWIN) as lease:
        assert lease.main is chat_main
        assert lease.draft.model is chat_draft


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

from __future__ import annotations

import threading

from app.core.request import DraftSettings
from app.engines.advisor import NO_DRAFT, Candidate, advise, prompt_lookup_candidate


def test_advisor_measures_every_candidate_and_no_draft(tiny_main, tiny_twin, tiny_noisy):
    seen: list[tuple[int, int]] = []
    advice = advise(
        tiny_main,
        [
            Candidate("twin", "twin", tiny_twin),
            Candidate("noisy", "noisy", tiny_noisy),
            prompt_lookup_candidate(),
        ],
        DraftSettings(max_draft_size=4, p_min=0.0),
        max_tokens=16,
        progress=lambda d, t: seen.append((d, t)),
    )
    keys = [r.key for r in advice.results]
    assert sorted(keys) == sorted([NO_DRAFT, "twin", "noisy", "prompt-lookup"])
    speeds = [r.tokens_per_second for r in advice.results]
    assert speeds == sorted(speeds, reverse=True) and all(s > 0 for s in speeds)
    assert next(r for r in advice.results if r.key == "twin").acceptance == 1.0
    assert seen[-1][0] == seen[-1][1] == 12
    assert advice.summary


def test_advisor_stops_when_cancelled(tiny_main, tiny_twin):
    cancel = threading.Event()
    cancel.set()
    advice = advise(tiny_main, [Candidate("twin", "twin", tiny_twin)], DraftSettings(), cancel=cancel)
    assert advice.cancelled and advice.recommended is None and advice.results == []

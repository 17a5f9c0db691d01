"""The one judge of whether a draft can make a main model faster."""

from __future__ import annotations

from app.library.entry import ModelEntry
from app.library.speed_up import cannot_speed_up


def entry(key: str, size: int) -> ModelEntry:
    return ModelEntry(key, key, "llama.cpp", "llama", 10**9, "Q4_K_M", size, 4096, f"/m/{key}.gguf", {})


def test_a_draft_must_be_smaller_than_the_main_model():
    main = entry("main", 4 * 2**30)
    assert cannot_speed_up("d", main, entry("d", 2**30)) == ""
    same = cannot_speed_up("d", main, entry("d", 4 * 2**30))
    assert same == "as large as the main model: it cannot make it faster"
    larger = cannot_speed_up("d", main, entry("d", 5 * 2**30))
    assert larger == "larger than the main model (5.0 GB vs 4.0 GB)"


def test_a_measurement_speaks_first_and_judges_drafts_that_are_not_models():
    main, small = entry("main", 4 * 2**30), entry("d", 2**30)
    measured = {"d": "measured 0.97x without a draft: no faster here", "prompt-lookup": "measured 0.9x"}
    assert cannot_speed_up("d", main, small, measured).startswith("measured 0.97x")
    assert cannot_speed_up("prompt-lookup", main, None, measured) == "measured 0.9x"
    assert cannot_speed_up("prompt-lookup", main, None) == ""

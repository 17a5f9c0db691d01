"""Draft sources and the Auto draft length."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from app.engines.drafting import AdaptiveDraftLength, PromptLookupDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.engines.helpers import assert_invariants, raw, run
from tests.model_factory import write_tiny_gguf


def test_prompt_lookup_proposes_what_followed_the_latest_match():
    pl = PromptLookupDraft()
    seq = [9, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3]
    assert pl.propose(seq, 3, 0.0) == [4, 5, 6]
    assert pl.propose([*seq, 4, 5, 8, 2, 3], 2, 0.0) == [4, 5]  # (1, 2, 3) no longer ends it; (2, 3) does
    assert pl.propose([10, 11, 12, 13], 4, 0.0) == []  # no earlier occurrence (and the index was reset)


def test_prompt_lookup_never_proposes_past_the_end():
    pl = PromptLookupDraft()
    assert pl.propose([1, 2, 1, 2], 8, 0.0) == [1, 2]


def simulate(policy: AdaptiveDraftLength, rounds: int, accept_rate: float, draft_cost: float) -> list[int]:
    """A fake clock: a plain step takes 1.0, a verify of k+1 tokens 1.2 + 0.05k, each draft
    token `draft_cost`; a fraction `accept_rate` of each draft is accepted."""
    now, choices = 0.0, []
    for _ in range(rounds):
        k = policy.choose(16, now)
        choices.append(k)
        accepted = int(k * accept_rate)
        now += (1.0 if k == 0 else 1.2 + 0.05 * k) + k * draft_cost
        policy.observe(k, accepted)
    return choices


def test_auto_stops_drafting_when_nothing_is_accepted_and_probes_with_backoff():
    choices = simulate(AdaptiveDraftLength(8), 200, accept_rate=0.0, draft_cost=0.3)
    drafting = [i for i, k in enumerate(choices) if k]
    assert len(drafting) <= 8 and max(choices) <= 4  # one first try, then short probes
    gaps = [b - a for a, b in itertools.pairwise(drafting)]
    assert gaps == sorted(gaps)  # further and further apart


def test_auto_settles_on_long_drafts_when_they_are_cheap_and_accepted():
    choices = simulate(AdaptiveDraftLength(16), 200, accept_rate=1.0, draft_cost=0.1)
    assert sum(1 for k in choices[-100:] if k == 16) > 80


def test_auto_prefers_short_drafts_when_drafting_is_expensive():
    choices = simulate(AdaptiveDraftLength(16), 200, accept_rate=0.6, draft_cost=0.45)
    late = choices[-100:]
    assert max(set(late), key=late.count) in (0, 1, 2)


@pytest.fixture(scope="module")
def models(tiny_main: Path, tiny_twin: Path, models_dir: Path):
    poor = write_tiny_gguf(models_dir / "unrelated.gguf", seed=99)
    loaded = {
        "main": LlamaCppModel(tiny_main, LoadOptions(n_ctx=512)),
        "twin": LlamaCppModel(tiny_twin, LoadOptions(n_ctx=512)),
        "poor": LlamaCppModel(poor, LoadOptions(n_ctx=512)),
    }
    yield loaded
    for m in loaded.values():
        m.close()


def test_auto_is_lossless_and_gives_up_on_a_useless_draft(models):
    plain = run(models["main"], raw("the cat sat", 200))
    auto = run(
        models["main"], raw("the cat sat", 200, max_draft_size=8, p_min=0.0, auto=True), draft=models["poor"]
    )
    assert auto.text == plain.text
    assert_invariants(auto)
    rounds = auto.stats.rounds
    assert sum(1 for drafted, _ in rounds if drafted) <= max(4, 0.2 * len(rounds)), rounds
    # A draft as slow as the main model cannot pay either, however right it is: still lossless.
    same = run(
        models["main"], raw("the cat sat", 200, max_draft_size=8, p_min=0.0, auto=True), draft=models["twin"]
    )
    assert same.text == plain.text


def test_rounds_are_recorded_for_the_acceptance_chart(models):
    r = run(models["main"], raw("the", 40, max_draft_size=4, p_min=0.0), draft=models["twin"])
    assert r.stats.rounds and all(0 <= acc <= drafted <= 4 for drafted, acc in r.stats.rounds)
    assert sum(acc for _, acc in r.stats.rounds) == r.stats.accepted_draft_tokens_count


def test_prompt_lookup_is_lossless_and_counted(cycle_main):
    main = LlamaCppModel(cycle_main, LoadOptions(n_ctx=512))
    try:
        plain = run(main, raw("the", 450))
        spec = run(main, raw("the", 450, max_draft_size=8, p_min=0.0), draft=PromptLookupDraft())
    finally:
        main.close()
    assert spec.text == plain.text
    assert_invariants(spec)
    assert spec.stats.draft_model == "Prompt lookup (no draft model)"
    assert spec.stats.accepted_draft_tokens_count > 50  # the cycle repeats: lookups hit

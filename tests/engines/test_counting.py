"""What a reply counts, where the reply ends: draft tokens are counted when the main model
verifies them (an accepted token the reply never shows, because the reply stopped first, is
counted apart), and a reply that fills the context ends there for that reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.events import GenerationResult, RoundEvent, StopReason, TokenEvent, TokenOrigin
from app.core.request import DraftSettings, GenerationRequest
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.conftest import cycle_successor
from tests.engines.helpers import GREEDY, assert_invariants, raw, run
from tests.model_factory import write_tiny_gguf

ONE = LoadOptions(n_ctx=512, n_threads=1)
THE = 259  # "▁the" in the tiny vocabulary: the prompt "the" ends with it
LAST = THE + 5  # the cycle models' greedy path: the, then THE + 1, THE + 2, ...


def to_eos(t: int) -> int:
    """The cycle, but the end of generation after LAST."""
    return 2 if t == LAST else cycle_successor(t)


@pytest.fixture(scope="module")
def ending(models_dir: Path):
    """A main model and its exact twin whose greedy reply after "the" is five tokens, then
    the end of generation."""
    paths = [write_tiny_gguf(models_dir / f"ending-{i}.gguf", seed=3, successor=to_eos) for i in (0, 1)]
    models = [LlamaCppModel(p, ONE) for p in paths]
    yield models
    for m in models:
        m.close()


@pytest.fixture(scope="module")
def cycle_pair(cycle_main: Path, cycle_twin: Path):
    models = [LlamaCppModel(cycle_main, ONE), LlamaCppModel(cycle_twin, ONE)]
    yield models
    for m in models:
        m.close()


def test_a_perfect_draft_that_proposes_the_end_has_every_token_accepted(ending):
    main, twin = ending
    r = run(main, raw("the", 40, max_draft_size=8, p_min=0.0), draft=ModelDraft(twin))
    s = r.stats
    assert s.stop_reason is StopReason.EOS
    assert s.rounds == [[5, 5]]  # THE + 2 .. LAST and the end, all accepted
    assert s.accepted_draft_tokens_count == 5
    assert s.rejected_draft_tokens_count == 0
    assert s.accepted_after_stop_count == 1  # the end of generation itself is no reply token
    assert s.predicted_tokens_count == 5
    assert s.acceptance_rate == 1.0
    assert_invariants(r)


def test_a_stop_string_inside_an_accepted_draft_counts_the_draft_accepted(cycle_pair):
    main, twin = cycle_pair
    plain = list(run(main, raw("the", 12)).events)
    stop = "".join(e.text for e in plain[2:4])  # inside the first round's draft
    request = GenerationRequest(
        prompt="the",
        max_tokens=40,
        sampling=GREEDY,
        draft=DraftSettings(max_draft_size=5, p_min=0.0, auto=False),
        stop=(stop,),
    )
    stream = list(main.generate(request, draft=ModelDraft(twin)))
    result = stream[-1]
    assert isinstance(result, GenerationResult)
    s = result.stats
    assert s.stop_reason is StopReason.STOP_STRING
    assert s.rounds == [[5, 5]]
    assert s.accepted_draft_tokens_count == 5
    assert s.rejected_draft_tokens_count == 0
    drafted = [e for e in stream if isinstance(e, TokenEvent) and e.origin is TokenOrigin.DRAFT]
    assert s.accepted_draft_tokens_count - s.accepted_after_stop_count == len(drafted) == 1
    # the live strip sees the same round as the chart and the API
    assert [[e.drafted, e.accepted] for e in stream if isinstance(e, RoundEvent)] == s.rounds


@pytest.mark.parametrize("with_draft", [False, True])
def test_a_reply_that_fills_the_context_uses_all_of_it(cycle_main, cycle_twin, with_draft):
    main = LlamaCppModel(cycle_main, LoadOptions(n_ctx=256, n_threads=1))
    twin = LlamaCppModel(cycle_twin, LoadOptions(n_ctx=256, n_threads=1))
    try:
        prompt = main.tokenize("the cat sat")
        r = run(
            main,
            raw("the cat sat", 1000, max_draft_size=6, p_min=0.0),
            draft=ModelDraft(twin) if with_draft else None,
        )
        assert r.stats.stop_reason is StopReason.CONTEXT_FULL
        # every position of the context holds a token; the last token needs no position of its own
        assert main.n_cached == main.n_ctx
        assert r.stats.predicted_tokens_count == main.n_ctx - len(prompt) + 1
        assert r.result.error is None
    finally:
        main.close()
        twin.close()

"""Predicted outputs as a draft source, and prompts that can be cancelled while being read."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.events import StopReason
from app.engines.drafting import CutoffRule
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.lookup_draft import PromptLookupDraft
from app.engines.prediction_draft import PREDICTION_NAME, PredictionDraft
from app.engines.prompt_reading import read_prompt
from tests.engines.helpers import assert_invariants, raw, run

PROMPT = [1, 50, 51, 52]


def proposed(d: PredictionDraft, sequence: list[int], budget: int, p_min: float) -> list[int]:
    return d.propose(sequence, budget, None, CutoffRule(p_min)).tokens  # type: ignore[arg-type]


def test_it_proposes_the_prediction_while_the_reply_follows_it():
    d = PredictionDraft([10, 11, 12, 13, 14, 15])
    d.warm(PROMPT)
    assert proposed(d, PROMPT, 3, 0.9) == [10, 11, 12]  # p_min means nothing to a prediction
    assert proposed(d, [*PROMPT, 10, 11], 3, 0.0) == [12, 13, 14]
    assert proposed(d, [*PROMPT, 10, 11, 12, 13, 14, 15], 3, 0.0) == []  # all of it used


def test_after_an_edit_it_picks_the_prediction_up_again():
    predicted = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    d = PredictionDraft(predicted)
    d.warm(PROMPT)
    reply = [*PROMPT, 10, 11, 99, 98]  # the reply replaced 12, 13 with an edit ...
    assert proposed(d, reply, 4, 0.0) == []  # ... nothing in the prediction follows 99, 98
    reply += [14, 15]  # ... and went back to the predicted text
    assert proposed(d, reply, 3, 0.0) == [16, 17, 18]


def test_a_repeated_phrase_resumes_near_where_the_reply_was():
    predicted = [7, 8, 9, 1, 2, 3, 7, 8, 9, 4, 5, 6]
    d = PredictionDraft(predicted)
    d.warm(PROMPT)
    reply = [*PROMPT, 7, 8, 9, 1, 2, 3, 0, 7, 8, 9]  # an insertion (0), then the second "7 8 9"
    assert proposed(d, reply, 3, 0.0) == [4, 5, 6]


def test_when_earlier_turns_are_left_out_mid_reply_it_keeps_following_the_reply():
    """Context Overflow dropped part of the prompt (app/engines/reply_context.py): the reply
    so far moved back; the prediction goes on from where the reply was, not from the start."""
    predicted = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    d = PredictionDraft(predicted)
    prompt = [1, 40, 41, 42, 43, 44, 50, 51, 52]
    d.warm(prompt)
    assert proposed(d, [*prompt, 10, 11, 12, 13], 2, 0.0) == [14, 15]
    shorter = [1, 50, 51, 52]  # the turns 40..44 left out; the reply kept as it is
    assert proposed(d, [*shorter, 10, 11, 12, 13, 14], 3, 0.0) == [15, 16, 17]
    assert proposed(d, [*shorter, 10, 11, 12, 13, 14, 15, 16], 2, 0.0) == [17, 18]


def test_without_a_match_the_fallback_drafts():
    d = PredictionDraft([10, 11], fallback=PromptLookupDraft())
    assert d.name == f"{PREDICTION_NAME} + {PromptLookupDraft.name}"
    seq = [*PROMPT, 60, 61, 62, 60, 61]
    d.warm(PROMPT)
    assert proposed(d, seq, 2, 0.0) == [62, 60]  # prompt lookup: what followed 60, 61


@pytest.fixture(scope="module")
def main(tiny_main: Path):
    model = LlamaCppModel(tiny_main, LoadOptions(n_ctx=512))
    yield model
    model.close()


def test_a_prediction_that_matches_the_reply_is_mostly_accepted(main):
    plain = run(main, raw("the cat sat", 60))
    predicted = [e.token_id for e in plain.events]
    spec = run(main, raw("the cat sat", 60, max_draft_size=8, p_min=0.0), draft=PredictionDraft(predicted))
    assert spec.text == plain.text
    assert_invariants(spec)
    s = spec.stats
    assert s.draft_model == PREDICTION_NAME
    assert s.accepted_draft_tokens_count >= 0.8 * s.predicted_tokens_count
    assert s.rejected_draft_tokens_count <= 8  # at most the last round's overshoot


def test_a_wrong_prediction_changes_nothing_but_the_counts(main):
    plain = run(main, raw("the cat sat", 40))
    wrong = main.tokenize("hello world hello world", add_special=False)
    spec = run(main, raw("the cat sat", 40, max_draft_size=4, p_min=0.0), draft=PredictionDraft(wrong))
    assert spec.text == plain.text
    assert_invariants(spec)


def test_reading_a_prompt_stops_between_chunks_when_cancelled(main):
    prompt = main.tokenize("the cat sat on the mat " * 20)
    calls: list[int] = []
    cancel = threading.Event()
    real_eval = main.eval

    def counting(tokens, n_logits=1):
        calls.append(len(tokens))
        cancel.set()  # cancelled while the first chunk is read
        real_eval(tokens, n_logits)

    main.truncate(0)
    main.eval = counting
    try:
        assert not read_prompt(main, prompt, cancel, chunk=32)
    finally:
        del main.eval
    assert calls == [32]
    assert main.cached == prompt[:32]


def test_a_reply_cancelled_during_its_prompt_ends_at_once(main):
    cancel = threading.Event()
    cancel.set()
    r = run(main, raw("the cat sat on the mat " * 20, 40), cancel=cancel)
    assert r.stats.stop_reason is StopReason.CANCELLED
    assert r.events == []
    assert r.text == ""
    again = run(main, raw("the cat sat on the mat " * 20, 5))  # the next reply is whole
    assert again.stats.predicted_tokens_count == 5
    assert again.stats.time_to_first_token > 0

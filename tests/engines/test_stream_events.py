"""What the loop streams besides tokens (rounds, refused drafts), a draft whose context runs
out, and the measured no-draft baseline."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.core.events import DraftRejected, GenerationResult, RoundEvent, StopReason, TokenEvent, TokenOrigin
from app.core.request import DraftSettings, GenerationRequest
from app.engines import speculative
from app.engines.auto_draft import AutoDraft, bucket_of
from app.engines.auto_reply import settings_key
from app.engines.drafting import PROMPT_LOOKUP_KEY, ModelDraft, file_identity, free_confidence
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.lookup_draft import ChainedDraft, PromptLookupDraft
from app.engines.sampling import InvalidLogitsError
from app.engines.speculation_memory import SpeculationMemory
from tests.engines.helpers import GREEDY, assert_invariants, raw, run

ONE = LoadOptions(n_ctx=512, n_threads=1)


@pytest.fixture(scope="module")
def cyc(cycle_main: Path):
    model = LlamaCppModel(cycle_main, ONE)
    yield model
    model.close()


@pytest.fixture(scope="module")
def cyc_draft(cycle_draft: Path):
    model = LlamaCppModel(cycle_draft, ONE)
    yield model
    model.close()


def items(model, request, draft=None) -> list:
    return list(model.generate(request, draft=draft))


def check_order(stream: list) -> None:
    """Within each round: accepted draft tokens, then the refused proposal, then the main
    model's own token, then the round's summary."""
    rnd = 0
    phase = "start"  # what the last item of the current round was
    tokens_of_round: dict[int, list[TokenEvent]] = {}
    for item in stream[:-1]:
        if isinstance(item, TokenEvent):
            if item.token_id < 0:
                continue
            assert item.round >= rnd
            if item.round > rnd:
                rnd, phase = item.round, "start"
            tokens_of_round.setdefault(rnd, []).append(item)
            if item.origin is TokenOrigin.DRAFT:
                assert phase in ("start", "accepted")
                phase = "accepted"
            else:
                assert phase in ("start", "accepted", "rejected")
                phase = "main"
        elif isinstance(item, DraftRejected):
            assert item.round >= rnd
            if item.round > rnd:  # a round whose whole proposal was refused
                rnd, phase = item.round, "start"
            assert phase in ("start", "accepted")
            phase = "rejected"
        elif isinstance(item, RoundEvent):
            assert item.round >= rnd
            if item.round > rnd:  # a round that emitted nothing (end of generation)
                rnd = item.round
            phase = "summary"
    assert isinstance(stream[-1], GenerationResult)


def test_rounds_and_refused_drafts_stream_in_order(cyc, cyc_draft):
    """The cycle draft is wrong after every token id divisible by 7: the main model refuses
    exactly there, and says what it refused."""
    stream = items(cyc, raw("the", 80, max_draft_size=4, p_min=0.0), ModelDraft(cyc_draft))
    result = stream[-1]
    check_order(stream)
    tokens = [e for e in stream if isinstance(e, TokenEvent)]
    rejected = [e for e in stream if isinstance(e, DraftRejected)]
    rounds = [e for e in stream if isinstance(e, RoundEvent)]
    assert tokens[0].round == 0
    assert tokens[-1].round == result.stats.verify_steps
    assert [[r.drafted, r.accepted] for r in rounds] == result.stats.rounds
    assert [r.round for r in rounds] == list(range(1, result.stats.verify_steps + 1))
    assert rejected
    assert len(rejected) == sum(1 for r in rounds if r.accepted < r.drafted)
    for rej in rejected:
        after = stream[stream.index(rej) + 1]
        assert isinstance(after, TokenEvent)
        assert after.origin is TokenOrigin.MAIN
        assert after.token_id != rej.token_ids[0]
        assert rej.text == b"".join(cyc.piece(t) for t in rej.token_ids).decode("utf-8", "replace")
        before = stream[stream.index(rej) - 1]
        assert isinstance(before, (TokenEvent, RoundEvent))
        assert before.round <= rej.round
    assert all(r.draft_length == 4 or r.drafted < 4 for r in rounds)


def test_order_holds_while_a_possible_stop_string_holds_tokens_back(cyc, cyc_draft):
    full = run(cyc, raw("the", 60)).text
    stop = full[40:44]
    draft = DraftSettings(max_draft_size=4, p_min=0.0)
    stops = (stop, "zzzz")
    request = GenerationRequest(prompt="the", max_tokens=60, sampling=GREEDY, draft=draft, stop=stops)
    stream = items(cyc, request, ModelDraft(cyc_draft))
    check_order(stream)
    assert stream[-1].text == full[: full.index(stop)]
    assert stream[-1].stats.stop_reason is StopReason.STOP_STRING


def test_a_plain_reply_streams_tokens_only(cyc):
    stream = items(cyc, raw("the", 20))
    assert all(isinstance(i, TokenEvent) for i in stream[:-1])
    assert [e.round for e in stream[:-1]] == list(range(20))


# --- a draft that runs out of context ------------------------------------------------------------
@pytest.fixture
def small_draft(cycle_twin: Path):
    # the smallest context we load (256 tokens); a batch must not exceed the asked size
    model = LlamaCppModel(cycle_twin, LoadOptions(n_ctx=256, n_batch=32, n_threads=1))
    yield model
    model.close()


def test_a_full_draft_context_ends_drafting_not_the_reply(cyc, small_draft):
    assert small_draft.n_ctx < 300
    plain = run(cyc, raw("the", 300))
    stream = items(cyc, raw("the", 300, max_draft_size=8, p_min=0.0), ModelDraft(small_draft))
    result = stream[-1]
    assert result.error is None
    assert result.stats.stop_reason is StopReason.MAX_TOKENS
    assert result.text == plain.text
    assert f"draft's context ({small_draft.n_ctx} tokens) is full" in (result.stats.draft_note or "")
    rounds = [e for e in stream if isinstance(e, RoundEvent)]
    assert [r.paused for r in rounds].count(speculative.DRAFT_CONTEXT_FULL) == 1
    assert rounds[-1].drafted == 0
    assert rounds[0].drafted > 0
    assert result.stats.accepted_draft_tokens_count > 0
    check_order(stream)


def test_a_prompt_longer_than_the_drafts_context_never_starts_it(cyc, small_draft):
    prompt = " ".join(["the cat"] * 60)  # about 300 tokens
    r = run(cyc, raw(prompt, 10, p_min=0.0), draft=ModelDraft(small_draft))
    assert r.result.error is None
    assert r.stats.total_draft_tokens_count == 0
    assert "does not fit the draft's context" in (r.stats.draft_note or "")
    assert r.text == run(cyc, raw(prompt, 10)).text


def test_a_chained_draft_goes_on_with_lookup_when_the_model_is_full(cyc, small_draft):
    plain = run(cyc, raw("the", 450))
    r = run(cyc, raw("the", 450, max_draft_size=8, p_min=0.0), draft=ChainedDraft(ModelDraft(small_draft)))
    assert r.text == plain.text
    assert r.result.error is None
    assert "Prompt lookup went on drafting" in (r.stats.draft_note or "")
    late = r.stats.rounds[len(r.stats.rounds) // 2 :]
    assert sum(acc for _, acc in late) > 20  # the cycle repeats: lookup drafts the second lap
    assert_invariants(r)


# --- the no-draft baseline, measured within each reply ------------------------------------------
@pytest.fixture(scope="module")
def lap(cyc) -> list[int]:
    """The cycle model's whole lap as prompt tokens: prompt lookup drafts what follows."""
    first = run(cyc, raw("the", 370))
    return cyc.tokenize("the") + [e.token_id for e in first.events if e.token_id >= 0]


def lookup_reply(model, prompt: list[int], n: int) -> list:
    request = raw("", n, p_min=0.0)
    return list(speculative.run_generation(model, PromptLookupDraft(), prompt, request))


def test_a_reply_with_a_draft_measures_its_own_no_draft_speed(cyc, lap):
    """Its single-token steps (the prompt's last token, one measuring round): never a figure
    from another reply, and nothing is remembered for the next one."""
    plain = run(cyc, raw("the", 40))
    assert plain.stats.baseline_tokens_per_second is None  # nothing to compare with
    stream = lookup_reply(cyc, lap, 40)
    s = stream[-1].stats
    assert 1 <= s.baseline_steps <= 2  # the first left out if far slower (tests/engines/test_reply_clock.py)
    assert s.baseline_tokens_per_second
    paused = [e.paused for e in stream if isinstance(e, RoundEvent)]
    assert paused[:2] == ["", speculative.MEASURING]  # drafted in the first round, then measured
    ratio = s.tokens_per_second / s.baseline_tokens_per_second
    assert s.speedup == pytest.approx(min(ratio, s.decode_tokens_per_step))


class BrokenDraft(PromptLookupDraft):
    """A draft source that fails after a few good rounds."""

    name = "broken"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def propose(self, sequence, budget, sampler, rule):
        self.calls += 1
        if self.calls > 3:
            raise InvalidLogitsError("the model produced invalid scores (NaN) for the next token")
        return super().propose(sequence, budget, sampler, rule)


def test_a_failing_draft_ends_drafting_not_the_reply(cyc):
    plain = run(cyc, raw("the", 60))
    r = run(cyc, raw("the", 60, p_min=0.0), draft=BrokenDraft())
    assert r.result.error is None
    assert r.text == plain.text
    assert "The draft failed (the model produced invalid scores" in (r.stats.draft_note or "")


def test_a_reply_that_copies_its_prompt_is_drafted_by_lookup_even_after_lookup_did_poorly(
    cyc, lap, monkeypatch
):
    """Auto learned that short prompt-lookup matches are usually refused (say, in chat): a
    reply that repeats its prompt word for word is still drafted from it (a match the reply
    keeps following is another clue), and a proposal Auto refuses is never reported as
    "prompt lookup found nothing". The loop's clock ticks per reading (a tiny model's steps
    take microseconds: one stall of the machine would otherwise teach Auto any cost)."""
    ticks = itertools.count()
    monkeypatch.setattr(speculative, "time", SimpleNamespace(perf_counter=lambda: next(ticks) / 1024))
    request = raw("", 120, p_min=0.0, auto=True)
    key = SpeculationMemory.pair_key(file_identity(cyc.path) or "", PROMPT_LOOKUP_KEY, settings_key(request))
    poor = AutoDraft(costly=False, state=None)
    for clue in range(1, 4):  # every plain match was refused
        poor.acc[bucket_of(free_confidence(clue))] = [0.0, 50.0]
    SpeculationMemory().record_learned(key, poor.state())
    stream = list(speculative.run_generation(cyc, PromptLookupDraft(), lap, request))
    s = stream[-1].stats
    assert s.accepted_draft_tokens_count > s.predicted_tokens_count / 2
    paused = [e.paused for e in stream if isinstance(e, RoundEvent)]
    assert speculative.LOOKUP_EMPTY not in paused  # the prompt holds every continuation

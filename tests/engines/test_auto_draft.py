"""Auto: the learned cutoff, pausing a draft that does not pay, and starting from memory."""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import pytest

from app.core.request import SamplingSettings
from app.engines.auto_draft import (
    FREE_EXPLORE,
    FREE_RETRY,
    MEASURING,
    MIN_DRAFT_ROUNDS,
    N_BUCKETS,
    NO_GAIN,
    PROBE_EARLY,
    AutoDraft,
    RoundTiming,
    bucket_of,
)
from app.engines.drafting import ModelDraft, free_confidence
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.speculation_memory import SpeculationMemory
from tests.engines.helpers import assert_invariants, raw, run
from tests.model_factory import write_tiny_gguf


def simulate(
    auto: AutoDraft,
    rounds: int,
    accept: float,
    draft_cost: float,
    row_cost: float = 0.05,
    confidences: tuple[float, ...] = (0.9,),
    accept_by_confidence: dict[float, float] | None = None,
    seed: int = 0,
    slow: frozenset[int] = frozenset(),
    jump: float = 0.0,
    totals: list[float] | None = None,
    plain_steps: int = 16,
) -> list[int]:
    """A fake clock: a plain step takes 1.0, a verify of k+1 rows 1 + row_cost * k (plus
    `jump` once a batch has two rows), a draft step `draft_cost`; each drafted token is
    accepted with its chance, in order. Rounds in `slow` take three times as long (another
    program took the CPU). `totals` adds up [tokens, time]. `plain_steps`: how many plain
    steps the unit is the mean of (a plain round, asked for to measure, adds one)."""
    rng = random.Random(seed)
    lengths = []
    for r in range(rounds):
        cap, why = auto.choose(16)
        plain_steps += why == MEASURING
        drafted, steps = 0, 0
        confs: list[float] = []
        if cap > 0 and auto.model_allowed:
            steps = 1
            while drafted < cap:
                conf = confidences[(r + drafted) % len(confidences)]
                if not auto.keep(drafted + 1, conf, True):
                    break
                confs.append(conf)
                drafted += 1
                if drafted == cap or not auto.extend(drafted):
                    break
                steps += 1
        accepted, checks = 0, []
        for conf in confs:
            chance = (accept_by_confidence or {}).get(conf, accept)
            ok = rng.random() < chance
            checks.append((conf, 1.0 if ok else 0.0))
            if not ok:
                break
            accepted += 1
        verify = 1.0 + row_cost * drafted + (jump if drafted else 0.0)
        load = 3.0 if r in slow else 1.0
        if totals is not None:
            totals[0] += accepted + 1
            totals[1] += (steps * draft_cost + verify) * load
        auto.observe(
            RoundTiming(
                drafted=drafted,
                accepted=accepted,
                model_steps=steps,
                draft_seconds=steps * draft_cost * load,
                catch_up=0.0,
                rows=drafted + 1,
                verify_seconds=verify * load,
                round_seconds=(steps * draft_cost + verify) * load,
                plain_step=1.0,
                checks=checks,
                plain_steps=plain_steps,
            )
        )
        lengths.append(drafted)
    return lengths


def fixed_speed(k: int, accept: float, draft_cost: float, row_cost: float, jump: float) -> float:
    """Tokens per plain step of drafting k tokens every round (the simulator's costs)."""
    tokens = 1 + sum(accept**i for i in range(1, k + 1))
    return tokens / (k * draft_cost + 1.0 + row_cost * k + jump)


def test_a_draft_that_pays_only_in_runs_is_run():
    """A CPU where a verify batch of two rows costs 2.2 single steps (its batched kernel)
    and each row after that 0.15: one drafted token never pays, eight do (1.27x). Auto
    must find the run, not pause the draft (it did: judging the first token alone, and
    taking the first long batches for rounds another program had slowed)."""
    costs = {"draft_cost": 0.3, "row_cost": 0.15, "jump": 1.2}
    best = max(fixed_speed(k, 0.95, **costs) for k in (4, 8, 16))
    assert best > 1.25
    assert fixed_speed(1, 1.0, **costs) < 1.0
    ratios = []
    for seed in range(6):
        auto = AutoDraft(costly=True, state=None)
        simulate(auto, 120, accept=0.95, confidences=(0.99, 0.9, 0.97), seed=seed, **costs)
        later = [0.0, 0.0]
        simulate(auto, 200, accept=0.95, confidences=(0.99, 0.9, 0.97), seed=seed + 50, totals=later, **costs)
        assert auto.mode == "draft", auto.note()
        ratios.append(later[0] / later[1] / best)
    assert min(ratios) > 0.9, ratios
    assert sum(ratios) / len(ratios) >= 0.95, ratios
    # ... and where no run length pays, the draft is paused as before
    costs = {"draft_cost": 0.5, "row_cost": 0.24, "jump": 1.26}
    assert max(fixed_speed(k, 0.9, **costs) for k in range(1, 17)) < 1.0
    auto = AutoDraft(costly=True, state=None)
    simulate(auto, 200, accept=0.9, confidences=(0.9,), **costs)
    assert auto.paused


@pytest.mark.parametrize("sampled", [True, False], ids=["sampled", "greedy"])
def test_an_unsure_draft_the_main_model_agrees_with_runs_long_from_its_first_rounds(sampled: bool) -> None:
    """A draft close to the main model is accepted nearly always however unsure it is of its
    tokens (sampled, with chance min(1, p/q); greedy, a quantized copy picks the same argmax).
    Its first rounds must already send long runs: priors of the confidence alone sent short
    ones (sampled, a new pair measured losing on them was paused, 1 seed in 10 here; greedy,
    the deeper pair's first reply drafted runs of 2-4 tokens, all accepted)."""
    costs = {"draft_cost": 0.3, "row_cost": 0.15, "jump": 1.2}
    for seed in range(10):
        auto = AutoDraft(costly=True, state=None, sampled=sampled)
        totals = [0.0, 0.0]
        lengths = simulate(
            auto, 24, accept=0.97, confidences=(0.4, 0.6, 0.35), seed=seed, totals=totals, **costs
        )
        assert not auto.paused, seed
        assert sum(lengths) / len(lengths) >= 10, (seed, lengths)
        assert totals[0] / totals[1] > 1.25, seed  # the best fixed size: 1.43


def test_a_cheap_perfect_draft_drafts_to_the_maximum():
    auto = AutoDraft(costly=True, state=None)
    lengths = simulate(auto, 120, accept=1.0, draft_cost=0.1)
    assert lengths[0] > 0  # a new pair drafts from the first round: the priors let a good draft in
    assert sum(1 for k in lengths[-60:] if k == 16) > 55, lengths
    assert not auto.paused
    assert auto.note() is None


def test_a_useless_draft_is_paused_within_a_few_rounds():
    auto = AutoDraft(costly=True, state=None)
    lengths = simulate(auto, 200, accept=0.05, draft_cost=0.6)
    assert auto.paused
    assert not auto.model_allowed
    assert auto.draft_rounds <= MIN_DRAFT_ROUNDS
    assert sum(lengths) <= 16
    assert "paused the draft" in (auto.note() or "")
    assert auto.choose(16) == (0, NO_GAIN)


def test_a_verdict_on_a_unit_of_two_steps_measures_it_first():
    """A reply's plain step measured twice can be a fifth off on a busy machine: a draft
    is paused on it only after the reply measured more plain steps (and it still loses)."""
    auto = AutoDraft(costly=True, state=None)
    whys: list[str] = []
    plain_steps, paused_at = 2, -1
    for r in range(40):
        cap, why = auto.choose(16)
        whys.append(why)
        plain_steps += why == MEASURING
        drafted = 4 if cap > 0 and auto.model_allowed else 0
        verify = 1.0 + 0.05 * drafted
        timing = RoundTiming(
            drafted,
            0,
            drafted,
            0.6 * drafted,
            0.0,
            drafted + 1,
            verify,
            0.6 * drafted + verify,
            1.0,
            [(0.95, 0.0)] if drafted else [],
            plain_steps,
        )
        auto.observe(timing)
        if auto.paused and paused_at < 0:
            paused_at = r
    assert auto.paused
    assert whys.count(MEASURING) == 2  # the unit then rests on four steps: the verdict stands
    assert whys.index(MEASURING) < paused_at


def test_an_expensive_draft_sends_few_tokens():
    auto = AutoDraft(costly=True, state=None)
    lengths = simulate(auto, 200, accept=0.6, draft_cost=0.45)
    assert max(lengths[-100:]) <= 2


def test_a_first_token_is_charged_the_batches_as_measured():
    """The first drafted token pays for the step from one verify row to two. Priced as the
    line through the longer batches extended back to two rows, it cost about twice what the
    two-row batch measured where the costs bend (a CPU's batched kernel: steep at first,
    flatter after), and with a slow draft step no run ever paid: at temperature 0.8 the
    deeper pair refused first tokens of every confidence, a draft step spent for nothing
    each time. A token accepted nine times in ten, against a measured 0.6 for its row, is
    sent."""
    level = bucket_of(0.6)
    accepted = [[0.0, 0.0] for _ in range(N_BUCKETS)]
    accepted[level] = [18.0, 20.0]
    verify = {"1": [1.0, 5.0], "2": [1.6, 5.0], "5": [2.9, 5.0], "9": [3.7, 5.0], "17": [4.6, 5.0]}
    state = {"accepted": accepted, "verify": verify, "draft_cost": 0.7, "seen": [97.0, 100.0]}
    auto = AutoDraft(costly=True, state=state)
    assert 0.85 < auto.acceptance(0.6) < 0.92
    assert auto.row_cost(1) > 1.0  # the line, extended back
    assert auto.keep(1, 0.6, True)


def test_the_cutoff_is_learned_per_confidence_level():
    auto = AutoDraft(costly=True, state=None)
    simulate(
        auto,
        300,
        accept=0.5,
        draft_cost=0.2,
        confidences=(0.99, 0.99, 0.99, 0.4),
        accept_by_confidence={0.99: 1.0, 0.4: 0.0},
    )
    assert auto.acceptance(0.99) > 0.9
    assert auto.acceptance(0.4) < 0.2
    assert auto.keep(1, 0.99, True)
    assert not auto.keep(2, 0.4, True)
    assert bucket_of(float("nan")) != bucket_of(0.99)


def test_a_paused_draft_is_retried_after_more_and_more_replies():
    auto = AutoDraft(costly=True, state=None)
    simulate(auto, 100, accept=0.0, draft_cost=0.6)
    state = json.loads(json.dumps(auto.state()))  # what the memory stores
    waits = []
    for _ in range(4):
        skipped = 0
        while True:
            nxt = AutoDraft(costly=True, state=state)
            if nxt.model_allowed:
                break
            assert nxt.paused_at_start
            assert "tried again" in (nxt.note() or "")
            assert nxt.choose(16) == (0, NO_GAIN)
            skipped += 1
            state = nxt.state()
        assert nxt.mode == "probe"
        simulate(nxt, 60, accept=0.0, draft_cost=0.6)
        assert nxt.paused
        assert nxt.draft_rounds == PROBE_EARLY  # a clear loss, nothing promising: the probe ends early
        state = nxt.state()
        waits.append(skipped)
    assert waits == [1, 2, 4, 8]


def test_a_probe_that_pays_resumes_drafting():
    auto = AutoDraft(costly=True, state=None)
    simulate(auto, 100, accept=0.0, draft_cost=0.6)
    state = auto.state()
    while not (nxt := AutoDraft(costly=True, state=state)).model_allowed:
        state = nxt.state()
    simulate(nxt, 60, accept=1.0, draft_cost=0.1, seed=1)
    assert not nxt.paused
    assert nxt.model_allowed


def test_prompt_lookup_is_never_paused_only_cut():
    auto = AutoDraft(costly=False, state=None)
    assert auto.choose(8) == (8, "")
    weak = free_confidence(1)
    for _ in range(50):
        auto.observe(RoundTiming(4, 0, 0, 0.0, 0.0, 5, 1.2, 1.2, 1.0, [(weak, 0.0)]))
    assert auto.choose(8) == (8, "")
    refused = [auto.keep(1, weak, False) for _ in range(4 * FREE_RETRY)]
    assert refused.count(True) == 4  # lookups that are always refused are sent now and then only
    assert auto.mode == "draft"


def test_a_draft_that_pays_is_not_paused_for_a_few_slow_rounds():
    """Another program takes the CPU for a few of the first rounds (three times slower):
    they are left out of the verdict, so a draft that pays is not paused for them."""
    for seed in range(8):
        auto = AutoDraft(costly=True, state=None)
        simulate(auto, 60, accept=0.8, draft_cost=0.15, seed=seed, slow=frozenset((1, 2, 4)))
        assert auto.mode == "draft", auto.note()
        assert auto.note() is None


def test_a_plain_round_corrects_a_one_row_cost_learned_in_a_bad_unit():
    """A plain round's batch is the unit's own step: never left out as disturbed, even when
    the memory says a one-row batch costs far less (learned against a slow first step)."""
    auto = AutoDraft(costly=True, state={"verify": {"1": [0.4, 1.0]}})
    auto.observe(RoundTiming(0, 0, 0, 0.0, 0.0, 1, 0.95, 1.0, 1.0, []))
    assert auto.verify[1][0] > 0.45


# --- on real (tiny) models ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def models(tiny_main: Path, models_dir: Path):
    # unrelated to the main model and several times its cost: drafting can only lose
    poor = write_tiny_gguf(models_dir / "unrelated-big.gguf", seed=99, n_embd=384, n_layer=6)
    one = LoadOptions(n_ctx=512, n_threads=1)
    loaded = {"main": LlamaCppModel(tiny_main, one), "poor": LlamaCppModel(poor, one)}
    yield loaded
    for m in loaded.values():
        m.close()


def test_auto_is_lossless_gives_up_on_a_useless_draft_and_remembers(models):
    plain = run(models["main"], raw("the cat sat", 200))
    first = run(
        models["main"], raw("the cat sat", 200, max_draft_size=8, auto=True), draft=ModelDraft(models["poor"])
    )
    assert first.text == plain.text
    assert_invariants(first)
    rounds = first.stats.rounds
    assert sum(1 for drafted, _ in rounds if drafted) <= max(4, 0.2 * len(rounds)), rounds
    assert first.stats.draft_note
    assert "paused the draft" in first.stats.draft_note
    memory = json.loads(SpeculationMemory().path.read_text())
    assert memory["schema"] == 1
    assert len(memory["memory"]["pairs"]) == 1
    # the next reply starts from what was learned: the draft is not even run, nor given the prompt
    models["poor"].truncate(0)
    second = run(
        models["main"], raw("the cat sat", 60, max_draft_size=8, auto=True), draft=ModelDraft(models["poor"])
    )
    assert models["poor"].n_cached == 0
    assert second.text == run(models["main"], raw("the cat sat", 60)).text
    assert second.stats.total_draft_tokens_count == 0
    assert second.stats.verify_steps == 59
    assert second.stats.draft_note
    assert "on the next reply" in second.stats.draft_note
    assert second.stats.baseline_tokens_per_second
    # ... and the one after probes it again, and pauses it again
    third = run(
        models["main"], raw("the cat sat", 200, max_draft_size=8, auto=True), draft=ModelDraft(models["poor"])
    )
    assert third.text == plain.text
    assert third.stats.draft_note
    assert "after 2 more replies" in third.stats.draft_note


def test_auto_learns_nothing_in_the_unit_of_a_slow_first_step(models, tiny_main, monkeypatch):
    """The step reading the prompt's last token can be far slower than the rest (the first
    after loading reads the weights from disk): Auto's costs must not be learned in it. A
    plain round costs one plain step, whatever the first step took."""
    main = models["main"]
    prefill = main.prefill
    monkeypatch.setattr(main, "prefill", lambda tokens: (time.sleep(0.3), prefill(tokens))[1])
    twin = LlamaCppModel(tiny_main, LoadOptions(n_ctx=512, n_threads=1))
    try:
        r = run(main, raw("the cat sat", 40, max_draft_size=4, auto=True), draft=ModelDraft(twin))
    finally:
        twin.close()
    assert r.stats.baseline_steps >= 1
    (pair,) = json.loads(SpeculationMemory().path.read_text())["memory"]["pairs"].values()
    one_row = pair["state"]["verify"]["1"][0]  # a plain round, in plain steps
    assert 0.5 < one_row < 2.0, pair["state"]


def test_auto_keeps_the_learning_per_settings(models):
    run(
        models["main"], raw("the cat sat", 120, max_draft_size=8, auto=True), draft=ModelDraft(models["poor"])
    )
    run(models["main"], raw("the cat sat", 40, max_draft_size=4, auto=True), draft=ModelDraft(models["poor"]))
    pairs = json.loads(SpeculationMemory().path.read_text())["memory"]["pairs"]
    assert len(pairs) == 2
    assert {k.split("\n")[2].split()[-2] for k in pairs} == {"max8", "max4"}


def test_generate_takes_draft_auto_on_the_command_line():
    from app.cli.generate import overrides
    from app.cli.parser import build_parser

    for flag, value in (("--draft-auto", True), ("--no-draft-auto", False)):
        args = build_parser().parse_args(["generate", "--prompt", "x", flag])
        assert overrides(args)["draft_auto"] is value
    assert overrides(build_parser().parse_args(["generate", "--prompt", "x"]))["draft_auto"] is None


def test_proposals_without_a_probability_are_sent_until_their_acceptance_is_learned():
    auto = AutoDraft(costly=False, state=None)
    auto.verify = {1: [1.0, 10.0], 2: [3.0, 10.0], 4: [7.0, 10.0]}  # a row costs two steps
    clue = free_confidence(2)
    assert auto.keep(1, clue, False)  # the prior alone would never pay for a row ...
    auto.acc[bucket_of(clue)] = [1.0, FREE_EXPLORE]  # ... learned: rarely right
    assert not auto.keep(1, clue, False)
    assert bucket_of(free_confidence(1)) != bucket_of(clue) != bucket_of(math.nan)


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_auto_learns_the_acceptance_of_the_token_it_held_back(models, tiny_main, monkeypatch, temperature):
    """A draft with the main model's own weights, and a rule that sends one token a round:
    the second, computed and refused, is observed too (the main model's row says whether it
    would have been accepted), so a refused confidence level can prove itself without
    costing a row. The text stays the plain text (nothing sent changes)."""
    seen: list[list[tuple[float, float]]] = []
    monkeypatch.setattr(AutoDraft, "keep", lambda self, position, confidence, model_step: position == 1)
    monkeypatch.setattr(AutoDraft, "extend", lambda self, kept: True)
    original = AutoDraft.observe
    monkeypatch.setattr(AutoDraft, "observe", lambda self, t: (seen.append(t.checks), original(self, t))[1])
    sampling = SamplingSettings(temperature=temperature, seed=7)
    request = raw("the cat sat", 80, sampling, max_draft_size=4, auto=True)
    twin = LlamaCppModel(tiny_main, LoadOptions(n_ctx=512, n_threads=1))
    try:
        r = run(models["main"], request, draft=ModelDraft(twin))
    finally:
        twin.close()
    if temperature == 0:
        assert r.text == run(models["main"], raw("the cat sat", 80, sampling)).text
    full = [c for c in seen if len(c) == 2]  # (until Auto pauses a draft that sends one token)
    assert len(full) >= 3, seen  # one sent (accepted: the same weights), one held back
    for (_, sent), (_, held) in full:
        assert sent > 0.99  # the same weights (a batch row and a single row differ in float noise)
        assert 0.9 <= held <= 1.0  # the twin's token is the main model's: accepted, or nearly

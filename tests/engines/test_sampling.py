"""The numpy sampler: the same distribution as llama.cpp's chain, greedy where it must be,
and speculative sampling's check that keeps the main model's distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.request import SamplingSettings
from app.engines.sampling import InvalidLogitsError, TokenDistribution, TokenSampler, point
from tests.engines.llama_chain import ChainDistribution, free_chain, llama_chain

CASES = [
    SamplingSettings(),  # the app's defaults
    SamplingSettings(temperature=0.5, top_k=0, top_p=0.9, min_p=0.0, repeat_penalty=1.0),
    SamplingSettings(temperature=1.3, top_k=5, top_p=1.0, min_p=0.1, repeat_penalty=1.5, repeat_last_n=8),
    SamplingSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.2),
]


def logit_rows(n_vocab: int = 2000, rows: int = 12) -> list[np.ndarray]:
    rng = np.random.default_rng(4)
    out = []
    for i in range(rows):
        scale = (0.5, 2.0, 5.0)[i % 3]  # flat, middling, peaked
        out.append((rng.standard_normal(n_vocab) * scale).astype(np.float32))
    return out


@pytest.mark.parametrize("settings", CASES)
def test_the_distribution_is_llama_cpps_chain(settings):
    history = [5, 17, 17, 99, 1500, 3]
    reference = ChainDistribution(2000)
    ours = TokenSampler(settings)
    for logits in logit_rows():
        chain = llama_chain(settings, 2000, history, final=False)
        try:
            ids, probs = reference(chain, logits)
        finally:
            free_chain(chain)
        dist = ours.distribution(logits.copy(), ours.window(history))
        # we treat tokens 20 nats below the best as impossible: llama.cpp's chance for them is tiny
        ours_only = set(dist.ids.tolist()) - set(ids.tolist())
        assert not ours_only
        ref = dict(zip(ids.tolist(), probs.tolist(), strict=True))
        missing = sum(p for t, p in ref.items() if t not in set(dist.ids.tolist()))
        assert missing < 1e-6
        assert dist.probs[0] == dist.probs.max()  # the most likely first (the rest need no order)
        np.testing.assert_allclose(dist.probs, [ref[t] for t in dist.ids.tolist()], rtol=1e-4, atol=1e-7)


def test_greedy_is_the_penalised_argmax_and_its_confidence_the_softmax_top():
    s = TokenSampler(SamplingSettings(temperature=0.0, repeat_penalty=2.0))
    logits = np.array([1.0, 4.0, 3.0, -1.0], dtype=np.float32)
    assert s.distribution(logits).top == 1
    assert s.distribution(logits, [1]).top == 2  # 4 / 2 = 2 < 3
    d = s.distribution(logits, [], confidence=True)
    exact = 1 / np.exp(logits - 4.0).sum()
    assert d.confidence == pytest.approx(exact)
    assert len(d.ids) == 1
    assert math.isnan(s.distribution(logits).confidence)


def draws(sampler: TokenSampler, p: TokenDistribution, q: TokenDistribution | None, n: int) -> np.ndarray:
    """What speculative sampling emits at one position, n times: the drafted token when kept,
    else the main model's own token."""
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        x = sampler.sample(q) if q is not None else 2
        own = sampler.verify(p, q, x)
        out[i] = x if own is None else own
    return out


@pytest.mark.parametrize("deterministic", [False, True])
def test_verify_keeps_the_main_distribution(deterministic):
    p = TokenDistribution(np.array([0, 1, 2, 3]), np.array([0.4, 0.3, 0.2, 0.1]))
    q = None if deterministic else TokenDistribution(np.array([2, 4, 0]), np.array([0.6, 0.3, 0.1]))
    s = TokenSampler(SamplingSettings(temperature=1.0, seed=3))
    n = 40_000
    got = np.bincount(draws(s, p, q, n), minlength=5) / n
    np.testing.assert_allclose(got, [0.4, 0.3, 0.2, 0.1, 0.0], atol=0.012)


def test_greedy_verify_accepts_exactly_the_argmax():
    s = TokenSampler(SamplingSettings(temperature=0.0))
    p = point(7)
    assert s.verify(p, point(7), 7) is None
    assert s.verify(p, point(3), 3) == 7
    assert s.verify(p, None, 3) == 7


def test_overlap_is_the_sum_of_minima():
    p = TokenDistribution(np.array([0, 1, 2]), np.array([0.5, 0.3, 0.2]))
    q = TokenDistribution(np.array([2, 1, 9]), np.array([0.5, 0.4, 0.1]))
    assert p.overlap(q, 0) == pytest.approx(0.2 + 0.3)
    assert p.overlap(None, 1) == pytest.approx(0.3)


def test_when_top_p_depends_on_tokens_under_min_p_the_whole_chain_runs():
    """Two tokens pass min-p; whether top-p keeps the second depends on the weight of the
    top-k tokens under min-p's cut: the fast path cannot tell, the full chain must decide."""
    settings = SamplingSettings(temperature=1.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0)
    logits = np.full(500, -30.0, dtype=np.float32)
    logits[7], logits[9] = 0.0, np.log(0.052)
    logits[100:138] = np.log(1e-3)
    chain = llama_chain(settings, 500, final=False)
    try:
        ids, probs = ChainDistribution(500)(chain, logits)
    finally:
        free_chain(chain)
    dist = TokenSampler(settings).distribution(logits)
    assert dist.ids.tolist() == ids.tolist() == [7, 9]
    np.testing.assert_allclose(dist.probs, probs, rtol=1e-5)


def test_nan_scores_are_impossible_tokens_and_all_nan_is_an_error():
    logits = np.array([1.0, np.nan, 3.0, 2.0], dtype=np.float32)
    flat = SamplingSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0)
    assert TokenSampler(flat).distribution(logits).ids.tolist() == [2, 3, 0]
    assert TokenSampler(SamplingSettings(temperature=0.0)).distribution(logits).top == 2
    with pytest.raises(InvalidLogitsError):
        TokenSampler(SamplingSettings()).distribution(np.full(4, np.nan, dtype=np.float32))


def test_greedy_with_a_penalty_under_one_raises_the_tokens_it_saw():
    """A Repeat Penalty under 1 favours repeats: a seen token's logit can overtake the argmax."""
    settings = SamplingSettings(temperature=0.0, repeat_penalty=0.5)
    logits = np.array([10.0, 9.0, 1.0], dtype=np.float32)
    assert TokenSampler(settings).distribution(logits, [1]).top == 1  # 9 / 0.5 = 18 > 10
    chain = llama_chain(settings, 3, [1], final=False)  # the penalties, then greedy's argmax
    try:
        ids, _ = ChainDistribution(3)(chain, logits)
        assert ids[0] == 1
    finally:
        free_chain(chain)


def reference_penalised(settings: SamplingSettings, logits: np.ndarray, history: list[int]) -> np.ndarray:
    """The whole row with llama.cpp's repeat penalty applied: what the sampler must behave as."""
    out = logits.astype(np.float32).copy()
    seen = np.array(sorted(set(history[-settings.repeat_last_n :])), dtype=np.int64)
    p = np.float32(settings.repeat_penalty)
    out[seen] = np.where(out[seen] > 0, out[seen] / p, out[seen] * p)
    return out


def vocabulary_rows() -> list[np.ndarray]:
    """Rows as long as Gemma's vocabulary and then some (a partial last block), peaked and flat."""
    rng = np.random.default_rng(11)
    rows = []
    for scale in (0.5, 3.0, 8.0):
        row = (rng.standard_normal(262_144 + 300) * scale).astype(np.float32)
        row[262_200] = row.max() + 0.5  # the best token in the partial block
        rows.append(row)
    return rows


@pytest.mark.parametrize("settings", CASES[:2] + CASES[3:])
def test_the_distribution_is_llama_cpps_chain_over_a_whole_vocabulary(settings):
    """Candidates come from block maxima and the penalty touches seen tokens only: the chain's
    answer over 262k tokens is still llama.cpp's, the best token seen or not."""
    n = 262_144 + 300
    reference = ChainDistribution(n)
    ours = TokenSampler(settings)
    for logits in vocabulary_rows():
        for history in ([5, 17, 99], [262_200, 5, 17]):  # the best token unseen, then seen
            chain = llama_chain(settings, n, history, final=False)
            try:
                ids, probs = reference(chain, logits)
            finally:
                free_chain(chain)
            dist = ours.distribution(logits, ours.window(history))
            ref = dict(zip(ids.tolist(), probs.tolist(), strict=True))
            ours_p = dict(zip(dist.ids.tolist(), dist.probs.tolist(), strict=True))
            # llama.cpp sums top-p's mass in float32: over thousands of near-equal tokens its
            # cut lands a few dozen tokens from the exact one (ours sums in float64)
            assert sum(p for t, p in ref.items() if t not in ours_p) < 1e-3
            assert sum(p for t, p in ours_p.items() if t not in ref) < 1e-3
            assert dist.probs[0] == dist.probs.max()
            shared = [t for t in dist.ids.tolist() if t in ref]
            np.testing.assert_allclose(
                [ours_p[t] for t in shared], [ref[t] for t in shared], rtol=2e-3, atol=1e-8
            )


@pytest.mark.parametrize("penalty", [1.0, 1.3, 0.7])
def test_greedy_over_a_whole_vocabulary_is_the_penalised_argmax_with_llama_cpps_confidence(penalty):
    """The argmax of the penalised row (the lowest id among equals, as np.argmax), and the
    confidence llama.cpp's draft uses: the top token's share of the ten best."""
    settings = SamplingSettings(temperature=0.0, repeat_penalty=penalty)
    s = TokenSampler(settings)
    for logits in vocabulary_rows():
        logits[77] = logits[262_200]  # a tie with the best, at a lower id
        for history in ([5, 17], [262_200, 77, 5], [77]):
            full = reference_penalised(settings, logits, history) if penalty != 1.0 else logits
            plain = s.distribution(logits, history)
            sure = s.distribution(logits, history, confidence=True)
            assert plain.top == sure.top == int(np.argmax(full))
            top10 = np.sort(full.astype(np.float64))[-10:]
            assert sure.confidence == pytest.approx(1 / np.exp(top10 - top10[-1]).sum(), rel=1e-4)
            assert logits.flags.writeable  # read in place, never written

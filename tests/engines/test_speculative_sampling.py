"""Speculative sampling gives exactly the main model's distribution.

A main model with flat next-token distributions and a related draft (overlap sum_x min(p, q)
about 0.5-0.7, so the residual decides a large share of tokens) generate four-token replies
over 2,500 seeds. The exact distribution of each position is computed from the main model's
own probabilities (the sampler's distribution at every prefix, the whole tree enumerated),
and a chi-square test compares it with the empirical one. The same test run with a
deliberately wrong residual must fail, so it has the power to catch one.

The thousands of replies run the real loop on a numpy model (tests/engines/numpy_model.py:
seconds); one smaller check runs the same test on a llama.cpp pair.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from app.core.events import GenerationResult, GenerationStats, TokenEvent
from app.core.request import SamplingSettings
from app.engines.cached_sequence import TokenModel
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.sampling import TokenDistribution, TokenSampler
from app.engines.speculative import run_generation
from tests.engines.helpers import assert_invariants, raw, run
from tests.engines.numpy_model import NumpyModel
from tests.model_factory import write_tiny_gguf

SETTINGS = SamplingSettings(temperature=1.0, top_k=8, top_p=0.95, min_p=0.05, repeat_penalty=1.3)
PROMPT = "the cat sat on"
NUMPY_PROMPT = [1, 5, 7, 3]
LENGTH = 4
SEEDS = range(2500)
END = -1  # the reply ended (end of generation) before this position

Reply = Callable[[int, int], tuple[list[int], GenerationStats]]  # (seed, length) -> token ids, stats


def seeded(seed: int) -> SamplingSettings:
    return SamplingSettings(**{**SETTINGS.__dict__, "seed": seed})


@pytest.fixture(scope="module")
def numpy_pair() -> tuple[NumpyModel, NumpyModel]:
    main = NumpyModel.random(seed=0, scale=1.0)
    return main, main.related(noise=0.8)


@pytest.fixture(scope="module")
def pair(models_dir: Path):
    one = LoadOptions(n_threads=1)  # many tiny steps: no thread hand-offs
    main = LlamaCppModel(write_tiny_gguf(models_dir / "flat-main.gguf", seed=0, logit_scale=0.3), one)
    draft = LlamaCppModel(
        write_tiny_gguf(models_dir / "flat-draft.gguf", seed=0, noise=0.15, logit_scale=0.3), one
    )
    yield main, draft
    main.close()
    draft.close()


def numpy_replies(main: NumpyModel, draft: NumpyModel) -> Reply:
    source = ModelDraft(draft)  # the models have no files: nothing is read or remembered

    def reply(seed: int, length: int) -> tuple[list[int], GenerationStats]:
        request = raw("", length, seeded(seed), max_draft_size=3, p_min=0.0)
        ids: list[int] = []
        stats = GenerationStats()
        for item in run_generation(main, source, NUMPY_PROMPT, request):
            if isinstance(item, TokenEvent) and item.token_id >= 0:
                ids.append(item.token_id)
            elif isinstance(item, GenerationResult):
                stats = item.stats
        return ids, stats

    return reply


def llama_replies(main: LlamaCppModel, draft: LlamaCppModel) -> Reply:
    def reply(seed: int, length: int) -> tuple[list[int], GenerationStats]:
        r = run(main, raw(PROMPT, length, seeded(seed), max_draft_size=3, p_min=0.0), draft=ModelDraft(draft))
        assert_invariants(r)
        return [e.token_id for e in r.events if e.token_id >= 0], r.stats

    return reply


def exact_marginals(main: TokenModel, prompt: Sequence[int], length: int) -> list[dict[int, float]]:
    """P(token at position i = y) for i < length, from the main model's distributions."""
    sampler = TokenSampler(SETTINGS)
    out: list[dict[int, float]] = [Counter() for _ in range(length)]  # type: ignore[misc]

    def walk(prefix: list[int], prob: float) -> None:
        depth = len(prefix)
        if depth == length:
            return
        seq = [*prompt, *prefix]
        main.prefill(seq)
        dist: TokenDistribution = sampler.distribution(main.logits(0), sampler.window(seq))
        for tok, p in zip(dist.ids.tolist(), dist.probs.tolist(), strict=True):
            if main.is_eog(tok):
                for d in range(depth, length):
                    out[d][END] += prob * p
                continue
            out[depth][tok] += prob * p
            walk([*prefix, tok], prob * p)

    walk([], 1.0)
    return out


def empirical(reply: Reply, length: int, seeds: range) -> tuple[list[Counter[int]], int, int]:
    counts: list[Counter[int]] = [Counter() for _ in range(length)]
    accepted = rejected = 0
    for seed in seeds:
        ids, stats = reply(seed, length)
        ids += [END] * (length - len(ids))
        for i, tok in enumerate(ids):
            counts[i][tok] += 1
        accepted += stats.accepted_draft_tokens_count
        rejected += stats.rejected_draft_tokens_count
    return counts, accepted, rejected


def chi_square_p_value(observed: Counter[int], expected: dict[int, float], n: int) -> float:
    """Pearson's test; cells expected fewer than 5 times are pooled into one."""
    cells = sorted(set(observed) | set(expected))
    small = [c for c in cells if expected.get(c, 0.0) * n < 5]
    obs = [observed.get(c, 0) for c in cells if c not in small] + [sum(observed.get(c, 0) for c in small)]
    exp = [expected[c] * n for c in cells if c not in small] + [sum(expected.get(c, 0.0) for c in small) * n]
    if exp[-1] == 0:
        if obs[-1]:
            return 0.0  # a token the main model cannot produce
        obs, exp = obs[:-1], exp[:-1]
    stat = sum((o - e) ** 2 / e for o, e in zip(obs, exp, strict=True))
    return upper_regularized_gamma((len(obs) - 1) / 2, stat / 2)


def upper_regularized_gamma(a: float, x: float) -> float:
    """Q(a, x) = Gamma(a, x) / Gamma(a): the chi-square survival function at 2x with 2a dof."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # series for P(a, x)
        term = total = 1.0 / a
        k = a
        while abs(term) > 1e-15 * abs(total):
            k += 1
            term *= x / k
            total += term
        return max(0.0, 1.0 - math.exp(log_front) * total)
    # continued fraction for Q(a, x) (modified Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 500):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(log_front) * h


def test_the_chi_square_helper_matches_known_values():
    # chi-square survival: 3.841 at 1 dof and 18.307 at 10 dof are the 5% points
    assert upper_regularized_gamma(0.5, 3.841 / 2) == pytest.approx(0.05, abs=2e-4)
    assert upper_regularized_gamma(5.0, 18.307 / 2) == pytest.approx(0.05, abs=2e-4)
    assert upper_regularized_gamma(5.0, 2.0) == pytest.approx(0.9473, abs=2e-4)


def p_values(
    main: TokenModel, prompt: Sequence[int], reply: Reply, length: int, seeds: range
) -> tuple[list[float], float]:
    exact = exact_marginals(main, prompt, length)
    counts, accepted, rejected = empirical(reply, length, seeds)
    for dist in exact:
        assert sum(dist.values()) == pytest.approx(1.0)
    n = len(seeds)
    values = [chi_square_p_value(counts[i], exact[i], n) for i in range(length)]
    return values, accepted / (accepted + rejected)


def test_speculative_sampling_has_exactly_the_main_models_distribution(numpy_pair):
    main, draft = numpy_pair
    values, acceptance = p_values(main, NUMPY_PROMPT, numpy_replies(main, draft), LENGTH, SEEDS)
    # the draft is accepted often but far from always: both the ratio test and the residual matter
    assert 0.3 < acceptance < 0.85, acceptance
    assert min(values) > 1e-3, values


def test_the_test_catches_a_wrong_residual(numpy_pair, monkeypatch):
    """Drawing the main model's own token from p (instead of max(0, p - q)) after a refusal
    over-weights tokens the draft already proposed: the test must see it."""

    def wrong_residual(self, p, q, token):
        return int(p.ids[np.searchsorted(np.cumsum(p.probs), self.rng.random() * p.probs.sum())])

    monkeypatch.setattr(TokenSampler, "_residual", wrong_residual)
    main, draft = numpy_pair
    values, _ = p_values(main, NUMPY_PROMPT, numpy_replies(main, draft), LENGTH, SEEDS)
    assert min(values[1:]) < 1e-6, values


def test_the_distribution_holds_on_a_llama_cpp_pair(pair):
    """The same test on real llama.cpp models (batched rows, cache rollback), shorter."""
    main, draft = pair
    values, acceptance = p_values(main, main.tokenize(PROMPT), llama_replies(main, draft), 3, range(800))
    assert 0.3 < acceptance < 0.9, acceptance
    assert min(values) > 1e-3, values


def test_the_same_seed_gives_the_same_speculative_text(pair):
    main, draft = pair
    sampling = seeded(11)
    a = run(main, raw(PROMPT, 40, sampling, max_draft_size=4, p_min=0.0), draft=ModelDraft(draft))
    b = run(main, raw(PROMPT, 40, sampling, max_draft_size=4, p_min=0.0), draft=ModelDraft(draft))
    assert a.text == b.text
    assert [e.origin for e in a.events] == [e.origin for e in b.events]
    plain_a = run(main, raw(PROMPT, 40, sampling))
    plain_b = run(main, raw(PROMPT, 40, sampling))
    assert plain_a.text == plain_b.text

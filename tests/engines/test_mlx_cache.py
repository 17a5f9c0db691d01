"""MLX past its sliding window: the rollback cache gives exactly what plain decoding (and
mlx-lm itself) gives, and a rejected draft costs a round, not a re-read of the context."""

from __future__ import annotations

import pytest

from tests.engines.helpers import assert_invariants, raw, run

pytest.importorskip("mlx_lm")

from app.engines.drafting import ModelDraft
from app.engines.mlx import MLXModel
from app.engines.mlx_cache import WindowKVCache
from tests.mlx_factory import write_mlx_model

WINDOW = 8
PROMPT = "the cat sat on the mat"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[MLXModel, MLXModel]:
    root = tmp_path_factory.mktemp("mlx-swa")
    main = write_mlx_model(root / "main", seed=0, layers=3, sliding_window=WINDOW)
    noisy = write_mlx_model(root / "noisy", seed=0, layers=3, sliding_window=WINDOW, noise=0.15)
    return MLXModel(main), MLXModel(noisy)


def count_evaluated(model: MLXModel) -> list[int]:
    """Sizes of every batch the model evaluates (a rebuilt cache shows up as a big one)."""
    sizes: list[int] = []
    original = model.eval

    def counting(tokens, n_logits=1):  # type: ignore[no-untyped-def]
        sizes.append(len(tokens))
        return original(tokens, n_logits)

    model.eval = counting  # type: ignore[method-assign]
    return sizes


def test_sliding_layers_get_the_rollback_cache(pair):
    main, _ = pair
    kinds = [type(c).__name__ for c in main._cache]
    assert kinds == ["WindowKVCache", "WindowKVCache", "KVCache"]


def test_plain_decoding_past_the_window_equals_mlx_lm(pair):
    import mlx.core as mx
    from mlx_lm.generate import generate_step
    from mlx_lm.models.cache import make_prompt_cache

    main, _ = pair
    ours = [e.token_id for e in run(main, raw(PROMPT, 60)).events]
    reference: list[int] = []
    for token, _ in generate_step(
        mx.array(main.tokenize(PROMPT)),
        main._model,
        max_tokens=60,
        sampler=lambda x: mx.argmax(x, axis=-1),
        prompt_cache=make_prompt_cache(main._model),  # mlx-lm's own rotating cache
    ):
        if main.is_eog(int(token)):
            break
        reference.append(int(token))
    assert len(ours) > 4 * WINDOW
    assert ours == reference[: len(ours)]


def test_speculative_past_the_window_equals_plain_at_a_flat_cost_per_round(pair):
    main, noisy = pair
    plain = run(main, raw(PROMPT, 120))
    main.truncate(0)
    noisy.truncate(0)
    sizes = count_evaluated(main)
    spec = run(main, raw(PROMPT, 120, max_draft_size=3, p_min=0.0), draft=ModelDraft(noisy))
    del main.eval
    assert spec.text == plain.text
    assert_invariants(spec)
    s = spec.stats
    assert s.rejected_draft_tokens_count > 0
    assert s.predicted_tokens_count > 8 * WINDOW
    # the prompt is read in one batch but its last token, which the loop reads for its logits
    prompt_batch, last, rounds = sizes[0], sizes[1], sizes[2:]
    assert (prompt_batch, last) == (len(main.tokenize(PROMPT)) - 1, 1)
    assert max(rounds) <= 3 + 1  # each round: the last token and the draft, never the context again
    assert len(rounds) == s.verify_steps


def test_the_cache_rolls_back_within_its_slack_and_refuses_beyond():
    import mlx.core as mx

    cache = WindowKVCache(window=4, slack=2, step=4)
    for _ in range(40):
        k = mx.zeros((1, 1, 1, 2))
        cache.update_and_fetch(k, k)
    assert cache.offset == 40
    assert cache.start > 0
    assert cache.can_trim(2)
    assert not cache.can_trim(cache.size() - 2)
    cache.trim(2)
    assert cache.offset == 38
    mask = cache.make_mask(3, window_size=4)
    assert mask.shape == (3, cache.size() + 3)
    assert mask.sum(axis=1).tolist() == [4, 4, 4]  # every query sees exactly its window


def test_a_rebuild_is_still_possible_past_the_slack(pair):
    main, _ = pair
    run(main, raw(PROMPT, 40))
    main.prefill(main.tokenize("hello world"))  # another prompt: far more than the slack to drop
    again = run(main, raw(PROMPT, 40))
    assert again.text == run(main, raw(PROMPT, 40)).text


@pytest.mark.parametrize(("slack", "step"), [(256, 256), (2, 4)])
def test_the_mask_covers_exactly_the_keys_when_the_buffer_cuts_its_oldest(slack, step):
    """The layers ask for the mask before they add their keys, and adding may cut the oldest
    entries off (past window + slack, when the buffer regrows): the mask must be for what the
    buffer holds then. With the default slack this first happens some 400 tokens past a window
    of 8 (a real model's window of 512: about a thousand tokens into a reply)."""
    import mlx.core as mx

    cache = WindowKVCache(window=WINDOW, slack=slack, step=step)
    for i in range(1000):
        n = 3 if i % 7 == 0 else 1
        mask = cache.make_mask(n, return_array=True)
        k = mx.zeros((1, 1, n, 2))
        keys, _ = cache.update_and_fetch(k, k)
        assert mask.shape == (n, keys.shape[2])
        assert mask.sum(axis=1).tolist()[-1] == min(WINDOW, keys.shape[2])
    assert cache.start > 0

from app.core.events import GenerationStats


def test_acceptance_by_position_counts_only_rounds_that_reached_the_position():
    stats = GenerationStats(rounds=[[3, 3], [3, 1], [1, 0], [0, 0]])
    # position 0: reached by 3 rounds, accepted in 2; position 1: 2 rounds, 1; position 2: 2 rounds, 1
    assert stats.acceptance_by_position() == [2 / 3, 1 / 2, 1 / 2]


def test_mean_tokens_per_step_is_none_before_any_step():
    assert GenerationStats().mean_tokens_per_step is None
    assert GenerationStats(predicted_tokens_count=30, verify_steps=12).mean_tokens_per_step == 2.5

"""MLX's greedy tokens found on the device (app/engines/device_greedy.py) against the general
path, the numpy sampler reading every row: the same stream, event for event, and the same
stats, with a draft, a cutoff, Auto, a full context, a cancel, and rows with NaN scores. The
general path is what the loop takes when the model does not offer the shortcut (the methods
removed from the class), and a clock that ticks per call makes Auto's timings the same."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from app.core.events import StopReason
from app.engines.mlx import MLXModel
from app.engines.sampling import TokenSampler
from app.engines.speculation_memory import SpeculationMemory
from tests.engines.helpers import GREEDY, raw
from tests.engines.mlx_paths import both_paths, stream
from tests.mlx_factory import write_mlx_model

pytest.importorskip("mlx_lm")
import mlx.core as mx  # after the skip: mlx is optional

from app.engines import mlx_greedy
from app.engines.device_greedy import NO_TOKEN, DeviceGreedy

PROMPTS = ("the cat sat", "def add(x, y):", "café")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mlx-greedy")
    return {
        "main": write_mlx_model(root / "main", seed=0),
        "twin": write_mlx_model(root / "twin", seed=0),
        "noisy": write_mlx_model(root / "noisy", seed=0, noise=0.15),
    }


@pytest.fixture(scope="module")
def models(folders: dict[str, Path]) -> dict[str, MLXModel]:
    return {name: MLXModel(path) for name, path in folders.items()}


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reading of the loop's clock about 1 ms after the last: timings (and so Auto's
    choices) depend only on the order of the loop's steps, which both paths share. A tick of
    2**-10 s keeps every difference exact (a millisecond's rounding depends on the reading,
    and so would a comparison of two durations)."""
    ticks = itertools.count()
    clock = SimpleNamespace(perf_counter=lambda: next(ticks) / 1024)
    monkeypatch.setattr("app.engines.speculative.time", clock)
    monkeypatch.setattr("app.engines.drafting.time", clock)


class Calls:
    """How often the shortcut ran."""

    def __init__(self) -> None:
        self.rows = self.runs = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    counted = Calls()
    rows, runs = MLXModel.greedy_rows, MLXModel.greedy_run

    def greedy_rows(self: MLXModel, ahead: bool = False) -> list[int]:
        counted.rows += 1
        return rows(self, ahead)

    def greedy_run(self: MLXModel, n: int, tops: bool, then: Any = None) -> Any:
        counted.runs += 1
        return runs(self, n, tops, then)

    monkeypatch.setattr(MLXModel, "greedy_rows", greedy_rows)
    monkeypatch.setattr(MLXModel, "greedy_run", greedy_run)
    return counted


def drafted(items: list[Any]) -> int:
    return int(items[-3][0])


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize(
    ("draft", "settings"),
    [
        (None, {}),
        ("twin", {"max_draft_size": 8, "p_min": 0.0}),
        ("noisy", {"max_draft_size": 4, "p_min": 0.0}),
        ("noisy", {"max_draft_size": 8, "p_min": 0.5}),
        ("noisy", {"max_draft_size": 16, "auto": True}),
        ("twin", {"max_draft_size": 16, "auto": True}),
    ],
)
def test_the_shortcut_streams_what_the_general_path_streams(models, calls, tmp_path, prompt, draft, settings):
    request = raw(prompt, 60, **settings)
    main, draft_model = models["main"], models[draft] if draft else None
    fast, slow = both_paths(tmp_path, main, draft_model, request)
    assert fast == slow
    assert calls.rows > 0
    assert calls.runs > 0 or draft is None
    if draft is not None:
        assert drafted(fast) > 0


def test_a_cutoff_cuts_the_run_where_the_general_path_stops(models, calls, tmp_path):
    """With p_min the run drafts the whole budget and is cut after: the proposals must be the
    same length as the general path's, so some rounds must have sent fewer than the budget."""
    request = raw("the cat sat", 60, max_draft_size=8, p_min=0.6)
    fast, slow = both_paths(tmp_path, models["main"], models["noisy"], request)
    assert fast == slow
    rounds = fast[-1][2]
    assert any(sent < 8 for sent, _ in rounds), rounds
    assert any(sent > 0 for sent, _ in rounds), rounds


@pytest.mark.parametrize("draft", [None, "twin", "noisy"])
def test_a_cancelled_reply_stops_where_the_general_path_stops(models, tmp_path, draft):
    request = raw("the", 200, max_draft_size=4, p_min=0.0)
    draft_model = models[draft] if draft else None
    fast, slow = both_paths(tmp_path, models["main"], draft_model, request, cancel_after=7)
    assert fast == slow
    assert fast[-1 - 3][2] is StopReason.CANCELLED


@pytest.mark.parametrize("draft_ctx", [None, 40])
def test_a_full_context_ends_the_reply_as_on_the_general_path(folders, tmp_path, draft_ctx):
    """The main model's context fills up (context_full), and a draft's smaller one first
    (drafting stops with a note)."""
    main = MLXModel(folders["main"], n_ctx=48)
    draft = MLXModel(folders["noisy"], n_ctx=draft_ctx or 48)
    request = raw("the cat sat on the mat", 100, max_draft_size=8, p_min=0.0)
    fast, slow = both_paths(tmp_path, main, draft, request)
    assert fast == slow
    assert fast[-4][2] is StopReason.CONTEXT_FULL
    if draft_ctx:
        assert "full" in (fast[-4][4] or "")


@pytest.mark.parametrize("poisoned", ["main", "draft"])
@pytest.mark.parametrize("everywhere", [False, True])
def test_rows_with_nan_scores_are_left_to_the_numpy_sampler(folders, tmp_path, poisoned, everywhere):
    """After some token the model writes NaN into its scores: two thirds of them (the numpy
    sampler picks among the rest), or all (the row is invalid: the draft fails, or the reply
    ends with an error), the same on both paths. The token is one whose row the loop reads
    (a draft's last proposal is never read, for one)."""
    main, draft = MLXModel(folders["main"]), MLXModel(folders["twin"])
    request = raw("the cat sat", 40, max_draft_size=6, p_min=0.0)
    clean = stream(main, draft, request, SpeculationMemory(tmp_path / "clean.json"))
    model = main if poisoned == "main" else draft
    inner = model._model
    trigger = -1

    def poisoned_model(tokens: mx.array, cache: Any = None) -> mx.array:
        out = inner(tokens, cache=cache)
        hit = (tokens == trigger)[..., None]
        ids = mx.arange(out.shape[-1])
        spoilt = mx.ones(out.shape[-1], dtype=mx.bool_) if everywhere else (ids % 3 != 2)
        return mx.where(hit & spoilt, mx.nan, out)

    model._model = poisoned_model  # type: ignore[method-assign]
    for event in [i for i in clean if hasattr(i, "token_id")][3:20]:
        trigger = event.token_id
        fast, slow = both_paths(tmp_path, main, draft, request)
        assert fast == slow
        if fast != clean:
            break
    assert fast != clean
    text, error, note = fast[-4][0], fast[-4][1], fast[-4][4] or ""
    if everywhere and poisoned == "main":
        assert error is not None
    elif everywhere:
        assert "draft failed" in note
    else:
        assert error is None
        assert text


def test_a_shortcut_that_picked_another_token_would_be_caught(models, tmp_path, monkeypatch):
    """The comparison above can fail: an argmax on the device that takes the second best
    diverges at once."""

    class SecondBest:
        def __getattr__(self, name: str) -> Any:
            return getattr(mx, name)

        @staticmethod
        def argmax(rows: mx.array, axis: int = -1, keepdims: bool = False) -> mx.array:
            second = mx.argsort(-rows, axis=axis)[..., 1]
            return second[..., None] if keepdims else second

    monkeypatch.setattr(mlx_greedy, "mx", SecondBest())
    request = raw("the cat sat", 30, max_draft_size=4, p_min=0.0)
    fast, slow = both_paths(tmp_path, models["main"], models["noisy"], request)
    assert fast[-4][1] is None  # the shortcut ran: another token, not a failure
    assert fast != slow


# --- the device's answers, row by row ------------------------------------------------------------
def _rows(seed: int, n: int = 12, vocab: int = 700) -> np.ndarray:
    """Scores rounded to a coarse grid: ties everywhere, at the top and at the tenth place."""
    rng = np.random.default_rng(seed)
    return (np.round(rng.standard_normal((n, vocab)) * 4) / 4).astype(np.float32)


def replay(rows: mx.array) -> Any:
    """A model step that gives these rows in turn, whatever it is fed."""
    steps = iter([rows[i : i + 1] for i in range(len(rows))])
    return lambda _token: next(steps)


@pytest.mark.parametrize("dtype", [mx.float32, mx.bfloat16, mx.float16])
def test_argmax_and_confidence_on_the_device_equal_the_numpy_sampler(dtype):
    sampler = TokenSampler(GREEDY)
    assert sampler.plain_greedy
    for seed in range(5):
        rows = mx.array(_rows(seed)).astype(dtype)
        host = np.array(rows.astype(mx.float32))
        expected = [sampler.distribution(r, confidence=True) for r in host]
        assert mlx_greedy.argmax_rows(rows)[0] == [d.top for d in expected]
        found, fed, _ = mlx_greedy.run(rows[:1], len(host), replay(rows[1:]), True)
        assert found.tokens == [d.top for d in expected]
        assert fed == found.tokens[:-1]
        assert [found.confidence(i) for i in range(len(host))] == [d.confidence for d in expected]


def test_a_row_without_a_finite_best_is_no_token_and_ends_a_run():
    rows = _rows(7, n=5)
    rows[1, 3] = np.nan
    rows[2, :] = -np.inf
    rows[3, 9] = np.inf
    device = mx.array(rows)
    assert mlx_greedy.argmax_rows(device)[0] == [
        int(np.argmax(rows[0])),
        NO_TOKEN,
        NO_TOKEN,
        NO_TOKEN,
        int(np.argmax(rows[4])),
    ]
    found, fed, logits = mlx_greedy.run(device[:1], 5, replay(device[1:]), False)
    assert found.tokens == [int(np.argmax(rows[0]))]
    assert len(fed) == 4  # what was fed past the stop: the model drops it
    assert np.isnan(np.array(logits[1])).any()


def test_only_the_plain_greedy_sampler_takes_the_shortcut(models):
    assert isinstance(models["main"], DeviceGreedy)
    assert TokenSampler(GREEDY).plain_greedy
    assert not TokenSampler(GREEDY.__class__(temperature=0.0, repeat_penalty=1.1)).plain_greedy
    assert TokenSampler(GREEDY.__class__(temperature=0.0, repeat_penalty=1.1, repeat_last_n=0)).plain_greedy
    assert not TokenSampler(GREEDY.__class__(temperature=0.7, repeat_penalty=1.0)).plain_greedy

"""MLX's batches queued before the loop asks for them (app/engines/mlx_queue.py): plain decoding
one step ahead (each step queued before the last one's token is read, as mlx-lm's
generate_step does) and the verify batch queued behind the draft's steps (as its
speculative_generate_step does). The stream and the stats must be the general path's
(app/engines/device_greedy.py's tests say what that is) however the reply ends: the limit
reached, a stop string, the end of generation, a full context, a cancel, a consumer that stops
reading, a draft cut short; and a batch queued and never taken must leave the cache where the
model says it is: the next reply on the same cache streams what it streams on the general path."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.core.events import StopReason, TokenEvent
from app.core.request import GenerationRequest
from app.engines.mlx import MLXModel
from app.engines.speculation_memory import SpeculationMemory
from tests.engines.helpers import raw
from tests.engines.mlx_paths import both_paths, general_path, stream
from tests.mlx_factory import write_mlx_model

pytest.importorskip("mlx_lm")

from app.engines.mlx_cache import WindowKVCache

PROMPT = "the cat sat"
FOLLOW = raw(PROMPT + " on", 30)  # the second reply: the first one's prompt and more


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mlx_model(tmp_path_factory.mktemp("mlx-queued") / "main", seed=0)


@pytest.fixture(scope="module")
def main(folder: Path) -> MLXModel:
    return MLXModel(folder)


@pytest.fixture
def takes(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each batch queued ahead was taken (False: dropped when asked for another)."""
    seen: list[bool] = []
    take = MLXModel._take_queued

    def counted(self: MLXModel, tokens: Any, n_logits: int) -> bool:
        seen.append(take(self, tokens, n_logits))
        return seen[-1]

    monkeypatch.setattr(MLXModel, "_take_queued", counted)
    return seen


def tokens_of(items: list[Any]) -> list[TokenEvent]:
    return [i for i in items if isinstance(i, TokenEvent) and i.token_id >= 0]


def plain_reply(model: MLXModel, tmp_path: Path) -> list[TokenEvent]:
    return tokens_of(stream(model, None, raw(PROMPT, 40), SpeculationMemory(tmp_path / "plain.json")))


def two_replies(
    model: MLXModel,
    first: GenerationRequest,
    tmp_path: Path,
    cancel_after: int | None = None,
    close_after: int | None = None,
    draft: MLXModel | None = None,
    follow: GenerationRequest = FOLLOW,
) -> tuple[list[Any], list[Any]]:
    """(on the device, general): a reply ended as asked, then `follow` on what it left in the
    caches."""
    out = []
    for name in ("fast", "slow"):
        memory = SpeculationMemory(tmp_path / f"{name}.json")
        with general_path(model, draft) if name == "slow" else contextlib.nullcontext():
            reply = stream(model, draft, first, memory, cancel_after, close_after=close_after)
            out.append([reply, stream(model, draft, follow, memory, fresh=False)])
    return out[0], out[1]


def test_plain_decoding_queues_each_step_before_reading_the_last(main, takes, tmp_path):
    """Every round's step was queued by the round before (or by the prompt's last token)."""
    fast, slow = both_paths(tmp_path, main, None, raw(PROMPT, 40))
    assert fast == slow
    verify_steps = fast[-1][1]
    assert verify_steps >= 10
    assert takes == [True] * verify_steps
    stream(main, None, raw(PROMPT, 40), SpeculationMemory(tmp_path / "last.json"))
    assert main._queued is None  # nothing queued past the reply's limit: no work lost


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_reply_limit_ends_the_pipeline_as_on_the_general_path(main, tmp_path, limit):
    fast, slow = two_replies(main, raw(PROMPT, limit), tmp_path)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.MAX_TOKENS
    assert len(tokens_of(fast[0])) == limit


def test_a_stop_string_mid_reply(main, tmp_path):
    text = "".join(e.text for e in plain_reply(main, tmp_path)[4:6])
    assert text.strip()
    fast, slow = two_replies(main, replace(raw(PROMPT, 40), stop=(text,)), tmp_path)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.STOP_STRING
    assert len(tokens_of(fast[1])) > 5


def test_the_end_of_generation_mid_reply(folder, main, tmp_path):
    model = MLXModel(folder)
    ending = plain_reply(main, tmp_path)[6].token_id
    model.is_eog = lambda token: token == ending  # type: ignore[method-assign]
    fast, slow = two_replies(model, raw(PROMPT, 40), tmp_path)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.EOS
    assert len(tokens_of(fast[1])) > 5


@pytest.mark.parametrize("how", ["cancelled", "no longer read"])
def test_a_reply_stopped_mid_way(main, tmp_path, how):
    if how == "cancelled":
        fast, slow = two_replies(main, raw(PROMPT, 40), tmp_path, cancel_after=7)
        assert fast[0][-4][2] is StopReason.CANCELLED
    else:
        fast, slow = two_replies(main, raw(PROMPT, 40), tmp_path, close_after=7)
        assert len([i for i in fast[0] if isinstance(i, TokenEvent)]) == 7
    assert fast == slow
    assert len(tokens_of(fast[1])) > 5


def test_a_full_context(folder, tmp_path):
    fast, slow = two_replies(MLXModel(folder, n_ctx=24), raw(PROMPT, 40), tmp_path)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.CONTEXT_FULL


def test_a_cache_rebuilt_past_its_slack_after_a_queued_step(tmp_path):
    """A sliding window with little slack: the next reply's prompt drops more than the slack,
    so the cache is built anew, and the step queued before must not be taken off the new one."""
    window, slack = 8, 4
    model = MLXModel(write_mlx_model(tmp_path / "swa", seed=0, layers=3, sliding_window=window))
    built: list[int] = []

    def small_slack(cache: list[Any]) -> list[Any]:
        built.append(1)
        return [WindowKVCache(c.window, slack, step=4) if isinstance(c, WindowKVCache) else c for c in cache]

    make = model._make_cache
    model._make_cache = lambda m: small_slack(make(m))  # type: ignore[method-assign]
    model._cache = small_slack(model._cache)
    text = "".join(e.text for e in plain_reply(model, tmp_path)[24:26])
    built.clear()
    fast, slow = two_replies(model, replace(raw(PROMPT, 40), stop=(text,)), tmp_path)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.STOP_STRING
    assert len(built) >= 4  # each path: built anew for its first reply and for FOLLOW


# --- the verify batch behind the draft's steps ----------------------------------------------------
@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> MLXModel:
    return MLXModel(write_mlx_model(tmp_path_factory.mktemp("mlx-queued-twin") / "twin", seed=0))


def test_the_verify_batch_is_queued_behind_the_draft(main, twin, takes, tmp_path):
    """Every round that sends the whole run verifies the batch queued before the draft's wait."""
    fast, slow = both_paths(tmp_path, main, twin, raw(PROMPT, 60, max_draft_size=8, p_min=0.0))
    assert fast == slow
    drafting = [sent for sent, _ in fast[-1][2] if sent > 0]  # a round measures the plain speed
    assert len(drafting) >= 5
    assert takes == [True] * len(drafting)


def test_a_cutoff_queues_nothing(main, twin, takes, tmp_path):
    """A rule that may cut the run sends fewer tokens than drafted: no batch is queued for it."""
    fast, slow = both_paths(tmp_path, main, twin, raw(PROMPT, 60, max_draft_size=8, p_min=0.3))
    assert fast == slow
    assert takes == []


def test_a_run_the_end_of_generation_cuts_short(folder, main, twin, takes, tmp_path):
    """The run holds the end of generation: the loop sends the tokens before it, and the batch
    queued for the whole run is dropped; the next reply finds both caches where they say."""
    request = raw(PROMPT, 60, max_draft_size=8, p_min=0.0)
    ending = tokens_of(stream(main, twin, request, SpeculationMemory(tmp_path / "e.json")))[12].token_id
    model, draft = MLXModel(folder), MLXModel(folder)
    for m in (model, draft):
        m.is_eog = lambda token: token == ending  # type: ignore[method-assign]
    follow = raw(PROMPT + " on", 30, max_draft_size=8, p_min=0.0)
    fast, slow = two_replies(model, request, tmp_path, draft=draft, follow=follow)
    assert fast == slow
    assert fast[0][-4][2] is StopReason.EOS
    assert False in takes
    assert len(tokens_of(fast[1])) > 5


@pytest.mark.parametrize("how", ["min draft size", "stop string", "cancelled"])
def test_a_verify_batch_never_taken(main, twin, takes, tmp_path, how):
    """Shorter than Min Draft Size near the reply's limit (the loop sends nothing), a stop
    string, a cancel: the batch queued behind the draft is dropped, the next reply is right."""
    settings: dict[str, Any] = {"max_draft_size": 8, "p_min": 0.0}
    cancel_after = None
    if how == "min draft size":
        request = raw(PROMPT, 24, min_draft_size=5, **settings)  # 1, 9, 1 (measuring), 9, then 3 drafted
    elif how == "stop string":
        text = "".join(e.text for e in plain_reply(main, tmp_path)[10:12])
        request = replace(raw(PROMPT, 60, **settings), stop=(text,))
    else:
        request, cancel_after = raw(PROMPT, 60, **settings), 11
    fast, slow = two_replies(
        main, request, tmp_path, cancel_after, draft=twin, follow=raw(PROMPT + " on", 30, **settings)
    )
    assert fast == slow
    if how == "min draft size":
        assert fast[0][-2][1] > 0  # ignored
        assert False in takes
    assert len(tokens_of(fast[1])) > 5

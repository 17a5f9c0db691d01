"""The `lmstudio` Python SDK on the real pair: Gemma 3 270M's F16 twin, drafted for by the
bundled Q4_K_M, through respond() (streamed and not), complete(), cancel and the model calls.
Greedy, so the drafted reply must be the plain one token for token."""

from __future__ import annotations

import os

import pytest

from app.library.paths import models_dir
from tests.model_factory import gemma_f16_twin, gemma_q4
from tests.server.conftest import call

pytestmark = pytest.mark.slow

MAIN = "google/gemma-3-270m/gemma-3-270m-f16.gguf"
DRAFT = "google/gemma-3-270m/gemma-3-270m-q4_k_m.gguf"
GREEDY = {"temperature": 0.0, "maxTokens": 24}
DRAFTED = {**GREEDY, "draftModel": DRAFT, "speculativeDecodingNumDraftTokensExact": 4}
PROMPT = "Name three colours."


@pytest.fixture
def gemma(make_server):
    folder = models_dir() / "google" / "gemma-3-270m"
    folder.mkdir(parents=True)
    for src, name in ((gemma_f16_twin(), "gemma-3-270m-f16.gguf"), (gemma_q4(), "gemma-3-270m-q4_k_m.gguf")):
        os.link(src, folder / name)
    import lmstudio as lms

    srv = make_server()
    with lms.Client(f"127.0.0.1:{srv.port}") as client:
        yield srv, client


def add_up(s) -> bool:
    return s.total_draft_tokens_count == (
        s.accepted_draft_tokens_count + s.rejected_draft_tokens_count + s.ignored_draft_tokens_count
    )


def test_respond_with_the_bundled_model_drafting_is_the_plain_reply(gemma):
    srv, client = gemma
    chat = {
        "model": MAIN,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 24,
        "temperature": 0,
    }
    plain = call(srv, "POST", "/v1/chat/completions", {**chat, "draft_model": ""})[1]["choices"][0]["message"]
    model = client.llm.model(MAIN)
    drafted = model.respond(PROMPT, config=DRAFTED)
    stream = model.respond_stream(PROMPT, config=DRAFTED)
    fragments = list(stream)
    streamed = stream.result()
    assert plain["content"].strip()
    assert drafted.content == streamed.content == plain["content"]
    assert "".join(f.content for f in fragments) == plain["content"]
    for s in (drafted.stats, streamed.stats):
        assert s.used_draft_model_key == DRAFT
        assert s.accepted_draft_tokens_count > 0
        assert add_up(s)
        assert s.predicted_tokens_count == sum(f.tokens_count for f in fragments)
    assert any(f.contains_drafted for f in fragments)
    assert not all(f.contains_drafted for f in fragments)
    accepted = streamed.stats.accepted_draft_tokens_count
    assert sum(f.tokens_count for f in fragments if f.contains_drafted) == accepted
    record = [r for r in srv.requests() if r.path == "/llm/predict"][-1]
    assert record.model == MAIN
    assert record.acceptance is not None
    assert record.draft is not None


def test_complete_cancel_and_the_model_calls_on_the_real_pair(gemma):
    srv, client = gemma
    model = client.llm.model(MAIN)
    completed = model.complete("The capital of France is", config=DRAFTED)
    body = {"model": MAIN, "prompt": "The capital of France is", "max_tokens": 24, "temperature": 0}
    assert completed.content == call(srv, "POST", "/v1/completions", body)[1]["choices"][0]["text"]
    assert completed.stats.accepted_draft_tokens_count > 0
    assert add_up(completed.stats)
    stream = model.respond_stream("Tell me a long story.", config={**DRAFTED, "maxTokens": 400})
    for i, _ in enumerate(stream):
        if i == 2:
            stream.cancel()
    stopped = stream.result().stats
    assert stopped.stop_reason == "userStopped"
    assert stopped.predicted_tokens_count < 400
    assert {m.identifier for m in client.llm.list_loaded()} == {MAIN, DRAFT}
    with srv.runtime.lease(MAIN) as lease:
        expected = lease.main.tokenize("Hello world", add_special=False)
    assert model.tokenize("Hello world") == expected
    assert model.count_tokens("Hello world") == len(expected)
    info = model.get_info()
    assert info.architecture == "gemma3"
    assert info.context_length > 0
    assert info.size_bytes > 0
    model.unload()
    assert MAIN not in {m.identifier for m in client.llm.list_loaded()}

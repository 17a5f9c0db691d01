"""A conversation longer than the loaded context, over HTTP: it goes on (earlier turns left
out, as the Context Overflow policy says), and the usage and stats say what the model read."""

from __future__ import annotations

import json

from app.library.model_defaults import ModelDefaultsStore
from tests.server.conftest import MAIN, call, chat_body, sse_events

N_CTX = 256


def long_chat(turns: int = 40) -> list[dict[str, str]]:
    out = [{"role": "system", "content": "be brief"}]
    for t in range(turns):
        out.append({"role": "user", "content": f"question {t}: the cat sat on the mat"})
        out.append({"role": "assistant", "content": f"answer {t}: the dog sat on the log"})
    return [*out, {"role": "user", "content": "and now?"}]


def small_context(server) -> None:
    ModelDefaultsStore().update(MAIN, {"context_length": N_CTX})
    server.runtime.defaults = ModelDefaultsStore()


def test_a_chat_longer_than_the_context_goes_on_and_says_what_the_model_read(server):
    small_context(server)
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", chat_body(messages=long_chat()))
    assert status == 200, body
    usage, stats = body["usage"], body["stats"]
    assert usage["context_length"] == stats["context_length"] == N_CTX
    assert usage["prompt_tokens"] + 16 <= N_CTX  # the prompt after truncation, room for the reply
    assert stats["truncated_turns"] > 0
    assert usage["completion_tokens"] == 16
    status, plain, _ = call(server, "POST", "/v1/chat/completions", chat_body(messages=long_chat()))
    assert status == 200, plain
    assert plain["usage"] == {**usage, "total_tokens": usage["total_tokens"]}
    assert "stats" not in plain


def test_a_stream_announces_and_ends_with_the_prompt_after_truncation(server):
    small_context(server)
    body = chat_body(messages=long_chat(), stream=True, stream_options={"include_usage": True})
    events = sse_events(call(server, "POST", "/api/v0/chat/completions", body)[1]["raw"])
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["usage"]["context_length"] == N_CTX
    assert chunks[-1]["usage"]["prompt_tokens"] + 16 <= N_CTX
    assert chunks[-2]["stats"]["truncated_turns"] > 0


def test_the_policy_is_a_request_field(server):
    small_context(server)
    rolling = chat_body(messages=long_chat(), context_overflow_policy="rolling-window")
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", rolling)
    assert status == 200, body
    assert body["stats"]["truncated_turns"] > 0
    stop = chat_body(messages=long_chat(), context_overflow_policy="stop-at-limit", max_tokens=100_000)
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", stop)
    assert status == 200, body
    assert body["stats"]["stop_reason"] == "context_full"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] == N_CTX + 1
    status, body, _ = call(
        server, "POST", "/v1/chat/completions", chat_body(context_overflow_policy="sideways")
    )
    assert status == 400
    assert body["error"]["param"] == "context_overflow_policy"

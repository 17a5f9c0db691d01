"""Anthropic Messages (/v1/messages, /v1/messages/count_tokens) on a real server, driven by the
real `anthropic` client: the greedy reply with a draft is the plain one, streamed from
message_start to message_stop with the draft stats on message_delta; count_tokens counts what
the reply reads; x-api-key; what this server cannot do refused by name in Anthropic's error
shape, with a 4xx (a 5xx would have the SDK retry)."""

from __future__ import annotations

import pytest

from app.library.model_defaults import ModelDefaultsStore
from tests.server.conftest import (
    DRAFTING,
    ENDS,
    GEMMA,
    GEMMA_DRAFT,
    MAIN,
    call,
    draft_counts_add_up,
    sse_named,
)

MESSAGES = [{"role": "user", "content": "Name three colours."}]
N = 16


@pytest.fixture
def client_for():
    """The real client for a server (closed after the test)."""
    from anthropic import Anthropic

    made: list[Anthropic] = []

    def make(server, api_key: str = "unused", max_retries: int = 0) -> Anthropic:
        made.append(Anthropic(base_url=server.url, api_key=api_key, max_retries=max_retries))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.mark.slow
def test_the_anthropic_client_plain_drafted_streamed_and_counted(gemma_server, client_for):
    client = client_for(gemma_server)
    ask = {"model": GEMMA, "messages": MESSAGES, "max_tokens": N}  # greedy: temperature 0 below
    plain = client.messages.create(**ask, extra_body={"temperature": 0, "draft_model": ""})
    text = plain.content[0].text
    assert text.strip()
    assert plain.stop_reason == "max_tokens"
    assert plain.usage.output_tokens == N
    assert plain.stats["draft_model"] is None

    counted = client.messages.count_tokens(model=GEMMA, messages=MESSAGES)
    assert counted.input_tokens == plain.usage.input_tokens > 0

    drafted = client.messages.create(
        **ask, extra_body={"temperature": 0, "draft_model": GEMMA_DRAFT, **DRAFTING}
    )
    assert drafted.content[0].text == text
    assert drafted.stats["accepted_draft_tokens_count"] > 0
    assert draft_counts_add_up(drafted.stats)

    # streamed, with the model's default draft (no draft_model in the request)
    ModelDefaultsStore().update(GEMMA, {"draft_model": GEMMA_DRAFT, **DRAFTING})
    gemma_server.runtime.defaults = ModelDefaultsStore()
    with client.messages.stream(**ask, extra_body={"temperature": 0}) as stream:
        events = list(stream)
        final = stream.get_final_message()
    raw = [e for e in events if e.type in ("message_start", "content_block_delta", "message_delta")]
    assert raw[0].type == "message_start"
    assert raw[0].message.usage.input_tokens == plain.usage.input_tokens
    deltas = [e for e in raw if e.type == "content_block_delta"]
    assert "".join(d.delta.text for d in deltas) == text == final.content[0].text
    end = next(e for e in raw if e.type == "message_delta")
    assert end.delta.stop_reason == "max_tokens"
    assert end.usage.output_tokens == N
    stats = end.stats
    assert stats["draft_model"] == "gemma-3-270m-q4_k_m.gguf"
    assert draft_counts_add_up(stats)
    assert sum(1 for d in deltas if getattr(d, "draft", False)) == stats["accepted_draft_tokens_count"] > 0
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == N


def test_the_stream_is_anthropics_event_grammar_on_the_wire(server):
    body = {"model": ENDS, "messages": [{"role": "user", "content": "the"}], "max_tokens": 40, "stream": True}
    status, answer, headers = call(server, "POST", "/v1/messages", {**body, "temperature": 0})
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = sse_named(answer["raw"])
    assert all(name == data["type"] for name, data in events)  # the SDKs skip unnamed events
    kinds = [name for name, _ in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    end = events[-2][1]
    assert end["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}  # the model ended it


def test_stop_sequences_system_prompts_and_a_prefilled_reply(server):
    ask = {"model": ENDS, "max_tokens": 40, "temperature": 0}
    whole = call(server, "POST", "/v1/messages", {**ask, "messages": [{"role": "user", "content": "x"}]})[1]
    text = whole["content"][0]["text"]
    assert whole["stop_reason"] == "end_turn"
    assert "c" in text
    cut = call(
        server,
        "POST",
        "/v1/messages",
        {**ask, "messages": [{"role": "user", "content": "x"}], "stop_sequences": ["c"]},
    )[1]
    assert cut["stop_reason"] == "stop_sequence"
    assert cut["stop_sequence"] == "c"
    assert cut["content"][0]["text"] == text[: text.index("c")]
    several = call(
        server,
        "POST",
        "/v1/messages",
        {**ask, "messages": [{"role": "user", "content": "x"}], "stop_sequences": ["c", "zz"]},
    )[1]
    assert several["stop_reason"] == "stop_sequence"
    assert several["stop_sequence"] is None
    # a system prompt (text or blocks) and consecutive turns of one role read as Anthropic reads them
    blocks = call(
        server,
        "POST",
        "/v1/messages",
        {
            **ask,
            "system": [
                {"type": "text", "text": "be"},
                {"type": "text", "text": "brief", "cache_control": {}},
            ],
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "b"}]},
            ],
        },
    )[1]
    joined = call(
        server,
        "POST",
        "/v1/messages",
        {**ask, "system": "be\nbrief", "messages": [{"role": "user", "content": "a\nb"}]},
    )[1]
    assert blocks["usage"] == joined["usage"]
    assert blocks["content"] == joined["content"]
    # a last assistant turn is continued
    prefilled = call(
        server,
        "POST",
        "/v1/messages",
        {**ask, "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "ab"}]},
    )[1]
    assert prefilled["content"][0]["text"] == "cde"


def test_count_tokens_counts_what_the_reply_reads(server, client_for):
    client = client_for(server)
    messages = [{"role": "user", "content": "the cat"}, {"role": "assistant", "content": "the"}]
    counted = client.messages.count_tokens(model=MAIN, messages=messages, system="be brief")
    reply = client.messages.create(model=MAIN, messages=messages, system="be brief", max_tokens=1)
    assert counted.input_tokens == reply.usage.input_tokens > 0
    # a prompt longer than the context is counted too (a reply to it is refused)
    long = [{"role": "user", "content": "the cat " * 400}]
    assert client.messages.count_tokens(model=MAIN, messages=long).input_tokens > 512


def test_x_api_key_is_accepted_and_checked(make_server, client_for):
    srv = make_server(api_key="s3cret")
    assert client_for(srv, "s3cret").messages.count_tokens(model=MAIN, messages=MESSAGES).input_tokens > 0
    from anthropic import AuthenticationError

    with pytest.raises(AuthenticationError) as caught:
        client_for(srv, "wrong").messages.count_tokens(model=MAIN, messages=MESSAGES)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": caught.value.body["error"]["message"]},
    }
    status, _, _ = call(
        srv,
        "POST",
        "/v1/messages/count_tokens",
        {"model": MAIN, "messages": MESSAGES},
        headers={"Authorization": "Bearer s3cret"},
    )
    assert status == 200


@pytest.mark.parametrize(
    ("extra", "status", "kind", "needle"),
    [
        (
            {"tools": [{"name": "f", "input_schema": {"type": "object"}}]},
            400,
            "invalid_request_error",
            "tools",
        ),
        ({"tool_choice": {"type": "any"}}, 400, "invalid_request_error", "tool use"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, 400, "invalid_request_error", "thinking"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]},
            400,
            "invalid_request_error",
            "messages[0].content[0] is an image block",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]},
            400,
            "invalid_request_error",
            "tool use is not supported",
        ),
        (
            {"messages": [{"role": "user", "content": "the cat " * 400}]},
            400,
            "invalid_request_error",
            "context",
        ),
        ({"max_tokens": 0}, 400, "invalid_request_error", "max_tokens must be >= 1"),
        ({"model": "claude-sonnet-4-5"}, 404, "not_found_error", "claude-sonnet-4-5"),
    ],
)
def test_what_this_server_cannot_do_is_refused_in_anthropics_shape(
    server, client_for, extra, status, kind, needle
):
    from anthropic import APIStatusError

    client = client_for(server)
    ask = {"model": MAIN, "messages": MESSAGES, "max_tokens": 4, **extra}
    with pytest.raises(APIStatusError) as caught:
        client.messages.create(**{k: ask.pop(k) for k in ("model", "messages", "max_tokens")}, extra_body=ask)
    assert caught.value.status_code == status
    body = caught.value.body
    assert body["type"] == "error", body
    assert body["error"]["type"] == kind, body
    assert needle in body["error"]["message"], body
    assert caught.value.response.headers.get("x-should-retry") is None  # a 4xx: the SDK never retries


def test_unknown_paths_and_methods_answer_in_anthropics_shape(server):
    status, body, _ = call(server, "POST", "/v1/messages/batches", {})
    assert status == 404
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    status, body, headers = call(server, "GET", "/v1/messages")
    assert status == 405
    assert body["error"]["type"] == "invalid_request_error"
    assert "POST" in headers["allow"]


def test_a_server_error_no_retry_can_mend_tells_the_sdk_not_to_retry(server, client_for, library):
    from anthropic import InternalServerError

    whole = (library / "main.gguf").read_bytes()
    (library / "broken.gguf").write_bytes(whole)
    assert call(server, "GET", "/v1/models/test/tiny/broken.gguf")[0] == 200  # in the library
    (library / "broken.gguf").write_bytes(whole[: len(whole) // 2])  # then its weights go
    client = client_for(server, max_retries=2)  # the SDK's default
    with pytest.raises(InternalServerError) as caught:
        client.messages.create(model="test/tiny/broken.gguf", messages=MESSAGES, max_tokens=4)
    assert caught.value.body["error"]["type"] == "api_error"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert [r.status for r in server.requests()][1:] == [500]  # asked once, not three times

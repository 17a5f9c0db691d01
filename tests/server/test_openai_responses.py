"""OpenAI Responses (/v1/responses) on a real server, driven by the real `openai` client: the
greedy reply with a draft is the plain one, streamed in OpenAI's numbered events, with the
draft stats as our `stats` extension; previous_response_id within the server's life; what
this server cannot do refused by name in OpenAI's error shape."""

from __future__ import annotations

import pytest

from app.library.model_defaults import ModelDefaultsStore
from tests.server.conftest import (
    DRAFTING,
    ENDS,
    GEMMA,
    GEMMA_DRAFT,
    MAIN,
    TWIN,
    call,
    draft_counts_add_up,
    sse_named,
)

PROMPT = "Name three colours."
N = 16


@pytest.fixture
def client_for():
    """The real client for a server (closed after the test)."""
    from openai import OpenAI

    made: list[OpenAI] = []

    def make(server) -> OpenAI:
        made.append(OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.mark.slow
def test_the_openai_client_plain_drafted_and_streamed(gemma_server, client_for):
    client = client_for(gemma_server)
    ask = {"model": GEMMA, "input": PROMPT, "max_output_tokens": N, "temperature": 0}
    plain = client.responses.create(**ask, extra_body={"draft_model": ""})
    text = plain.output_text
    assert text.strip()
    assert plain.status == "incomplete"
    assert plain.incomplete_details.reason == "max_output_tokens"
    assert plain.usage.output_tokens == N
    assert plain.stats["draft_model"] is None
    assert plain.stats["total_draft_tokens_count"] == 0

    drafted = client.responses.create(**ask, extra_body={"draft_model": GEMMA_DRAFT, **DRAFTING})
    assert drafted.output_text == text
    stats = drafted.stats
    assert stats["draft_model"] == "gemma-3-270m-q4_k_m.gguf"
    assert stats["accepted_draft_tokens_count"] > 0
    assert draft_counts_add_up(stats)

    # streamed, with the model's default draft (no draft_model in the request)
    ModelDefaultsStore().update(GEMMA, {"draft_model": GEMMA_DRAFT, **DRAFTING})
    gemma_server.runtime.defaults = ModelDefaultsStore()
    events = list(client.responses.create(**ask, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == N
    assert "".join(d.delta for d in deltas) == text
    final = events[-1].response
    assert final.output_text == text
    assert final.usage.output_tokens == N
    stats = final.stats
    assert stats["draft_model"] == "gemma-3-270m-q4_k_m.gguf"
    assert draft_counts_add_up(stats)
    assert sum(1 for d in deltas if getattr(d, "draft", False)) == stats["accepted_draft_tokens_count"] > 0

    # a follow-up names the plain reply: its conversation is read again, the reply kept
    follow = client.responses.create(
        model=GEMMA,
        input="And one more?",
        previous_response_id=plain.id,
        max_output_tokens=2,
        temperature=0,
        extra_body={"draft_model": ""},
    )
    assert follow.previous_response_id == plain.id
    assert follow.usage.input_tokens > plain.usage.input_tokens + plain.usage.output_tokens
    assert client.responses.retrieve(plain.id).output_text == text


def test_a_conversation_continues_from_a_kept_reply_and_store_false_keeps_none(server):
    greedy = {"model": MAIN, "max_output_tokens": 4, "temperature": 0}
    first = call(server, "POST", "/v1/responses", {**greedy, "input": "the cat"})
    assert first[0] == 200, first[1]
    reply = first[1]
    status, follow, _ = call(
        server, "POST", "/v1/responses", {**greedy, "input": "the", "previous_response_id": reply["id"]}
    )
    assert status == 200, follow
    # the same conversation sent whole reads the same prompt
    text = reply["output"][0]["content"][0]["text"]
    whole = [
        {"role": "user", "content": "the cat"},
        {"role": "assistant", "content": [{"type": "output_text", "text": text}]},
        {"role": "user", "content": [{"type": "input_text", "text": "the"}]},
    ]
    resent = call(server, "POST", "/v1/responses", {**greedy, "input": whole})[1]
    assert resent["usage"]["input_tokens"] == follow["usage"]["input_tokens"]
    assert resent["output"] == [{**follow["output"][0], "id": resent["output"][0]["id"]}]
    unkept = call(
        server,
        "POST",
        "/v1/responses",
        {"model": MAIN, "input": "the", "store": False, "max_output_tokens": 2},
    )[1]
    assert unkept["store"] is False
    status, body, _ = call(
        server, "POST", "/v1/responses", {"model": MAIN, "input": "x", "previous_response_id": unkept["id"]}
    )
    assert status == 404
    assert body["error"]["code"] == "previous_response_not_found"
    assert body["error"]["param"] == "previous_response_id"
    assert "in memory" in body["error"]["message"]
    assert call(server, "GET", f"/v1/responses/{unkept['id']}")[0] == 404


def test_a_stream_is_openais_event_grammar_on_the_wire(server):
    body = {"model": ENDS, "input": "the cat", "max_output_tokens": 40, "stream": True, "temperature": 0}
    status, answer, headers = call(server, "POST", "/v1/responses", body)
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    events = sse_named(answer["raw"])
    assert all(name == data["type"] for name, data in events)  # each event named on its event: line
    assert events[-1][0] == "response.completed"  # the model ended its reply before max_output_tokens
    final = events[-1][1]["response"]
    assert final["status"] == "completed"
    assert final["incomplete_details"] is None
    created = events[0][1]["response"]
    assert created["status"] == "in_progress"
    assert created["id"] == final["id"]
    assert created["output"] == []
    assert final["output"][0]["status"] == "completed"
    assert final["output"][0]["content"][0]["text"].endswith("e")


@pytest.mark.parametrize(
    ("extra", "param", "code", "needle"),
    [
        ({"tools": [{"type": "function", "name": "f"}]}, "tools", "unsupported_parameter", "tools"),
        ({"tool_choice": "required"}, "tool_choice", "unsupported_parameter", "tool calling"),
        ({"reasoning": {"effort": "high"}}, "reasoning", "unsupported_parameter", "reasoning effort"),
        (
            {"text": {"format": {"type": "json_schema", "name": "x", "schema": {}}}},
            "text",
            "unsupported_parameter",
            "plain text",
        ),
        ({"truncation": "auto"}, "truncation", "unsupported_parameter", "never cut"),
        ({"background": True}, "background", "unsupported_parameter", "background"),
        ({"include": ["message.output_text.logprobs"]}, "include", "unsupported_parameter", "include"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]},
            "input[0].content[0]",
            "unsupported_content",
            "an image",
        ),
        (
            {"input": [{"type": "function_call_output", "call_id": "c", "output": "{}"}]},
            "input[0]",
            "unsupported_parameter",
            "tool calls",
        ),
        (
            {"previous_response_id": "resp_nope"},
            "previous_response_id",
            "previous_response_not_found",
            "resp_nope",
        ),
        ({"temperature": "hot"}, "temperature", "invalid_value", "temperature must be a number"),
        ({"draft_model": "nope.gguf"}, "draft_model", "model_not_found", "nope.gguf"),
    ],
)
def test_what_this_server_cannot_do_is_refused_by_name(server, client_for, extra, param, code, needle):
    from openai import BadRequestError, NotFoundError

    client = client_for(server)
    with pytest.raises((BadRequestError, NotFoundError)) as caught:
        client.responses.create(model=MAIN, input="the cat", max_output_tokens=4, extra_body=extra)
    error = caught.value.body
    assert error["param"] == param, error
    assert error["code"] == code, error
    assert needle in error["message"], error
    assert set(error) == {"message", "type", "code", "param"}


def test_the_default_draft_applies_and_an_empty_draft_model_turns_it_off(server):
    ModelDefaultsStore().update(MAIN, {"draft_model": TWIN})
    server.runtime.defaults = ModelDefaultsStore()
    body = {"model": MAIN, "input": "the cat", "max_output_tokens": 8, "temperature": 0}
    drafted = call(server, "POST", "/v1/responses", body)[1]
    assert drafted["stats"]["draft_model"] == "twin.gguf"
    assert draft_counts_add_up(drafted["stats"])
    plain = call(server, "POST", "/v1/responses", {**body, "draft_model": "none"})[1]
    assert plain["stats"]["draft_model"] is None
    assert plain["output"][0]["content"] == drafted["output"][0]["content"]

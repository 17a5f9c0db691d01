"""What OpenAI clients send: content parts, the developer and tool roles, usage in streams,
max_completion_tokens, and the fields this server refuses rather than ignores."""

from __future__ import annotations

import json

import pytest

from tests.server.conftest import MAIN, call, chat_body, sse_events


def reply(server, **extra: object) -> dict:
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(**extra))
    assert status == 200, body
    return body


def test_text_parts_are_joined_with_a_new_line(server):
    parts = [{"type": "text", "text": "the"}, {"type": "text", "text": "cat"}]
    joined = reply(server, messages=[{"role": "user", "content": parts}])
    plain = reply(server, messages=[{"role": "user", "content": "the\ncat"}])
    assert joined["choices"][0]["message"] == plain["choices"][0]["message"]
    assert joined["usage"] == plain["usage"]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ],
)
def test_image_and_audio_parts_are_refused_clearly(server, part):
    content = [{"type": "text", "text": "what is this?"}, part]
    status, body, _ = call(
        server, "POST", "/v1/chat/completions", chat_body(messages=[{"role": "user", "content": content}])
    )
    assert status == 400
    assert body["error"]["code"] == "unsupported_content"
    assert body["error"]["param"] == "messages[0].content[1]"
    assert "read text only" in body["error"]["message"]
    assert server.runtime.loaded() == []  # refused before any model is touched


def test_a_text_part_needs_its_text_and_an_unknown_part_is_named(server):
    status, body, _ = call(
        server,
        "POST",
        "/v1/chat/completions",
        chat_body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
    )
    assert status == 400
    assert "messages[0].content[0].text is required" in body["error"]["message"]
    status, body, _ = call(
        server,
        "POST",
        "/v1/chat/completions",
        chat_body(messages=[{"role": "user", "content": [{"type": "hologram"}]}]),
    )
    assert status == 400
    assert "hologram" in body["error"]["message"]


def test_developer_is_the_system_role_for_templates(server):
    as_system = reply(
        server, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "the"}]
    )
    as_developer = reply(
        server, messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "the"}]
    )
    assert as_developer["choices"][0]["message"] == as_system["choices"][0]["message"]
    assert as_developer["usage"] == as_system["usage"]


def test_tool_and_developer_messages_reach_the_models_own_template(server):
    assert reply(server)  # loads the model
    with server.runtime.lease(MAIN) as lease:
        lease.main.info.metadata["tokenizer.chat_template"] = (
            "{% for m in messages %}"
            "{% if m.role not in ['system', 'user', 'assistant', 'tool'] %}"
            "{{ raise_exception('unknown role ' + m.role) }}{% endif %}"
            "<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
        )
    messages = [
        {"role": "developer", "content": "Use the tool."},
        {"role": "user", "content": "the cat"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "1", "content": "sat on the mat"},
    ]
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", chat_body(messages=messages))
    assert status == 200, body
    with server.runtime.lease(MAIN) as lease:
        lease.main.info.metadata["tokenizer.chat_template"] = (
            "{% for m in messages %}{% if m.role == 'tool' %}"
            "{{ raise_exception('the tool said: ' + m.content) }}{% endif %}{% endfor %}"
        )
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(messages=messages))
    assert status == 400
    assert "the tool said: sat on the mat" in body["error"]["message"]


def test_usage_in_a_rest_stream_too(server):
    body = chat_body(stream=True, stream_options={"include_usage": True})
    answer = call(server, "POST", "/api/v0/chat/completions", body)[1]
    events = sse_events(answer["raw"])
    chunks = [json.loads(e) for e in events[:-1]]
    assert events[-1] == "[DONE]"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 16
    assert "stats" in chunks[-2]
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    plain = call(server, "POST", "/api/v0/chat/completions", chat_body(stream=True))[1]["raw"]
    assert '"usage"' not in plain


def test_max_completion_tokens_is_max_tokens(server):
    body = chat_body(max_completion_tokens=5)
    del body["max_tokens"]
    status, answer, _ = call(server, "POST", "/v1/chat/completions", body)
    assert status == 200
    assert answer["usage"]["completion_tokens"] == 5
    for limits in ((4, 5), (5, 4)):  # both are limits (issue 29): the smaller holds both
        body = chat_body(max_tokens=limits[0], max_completion_tokens=limits[1])
        status, answer, _ = call(server, "POST", "/v1/chat/completions", body)
        assert status == 200
        assert answer["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", [{"type": "function", "function": {"name": "f"}}]),
        ("tool_choice", "required"),
        ("logprobs", True),
        ("top_logprobs", 2),
        ("response_format", {"type": "json_object"}),
        ("logit_bias", {"5": 10}),
        ("presence_penalty", 0.5),
        ("frequency_penalty", -1),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(server, field, value):
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(**{field: value}))
    assert status == 400
    assert body["error"]["code"] == "unsupported_parameter"
    assert body["error"]["param"] == field


def test_harmless_values_of_those_fields_and_unknown_fields_are_fine(server):
    reply(
        server,
        tools=[],
        tool_choice="none",
        logprobs=False,
        response_format={"type": "text"},
        presence_penalty=0,
        frequency_penalty=0.0,
        user="someone",
        metadata={"a": "b"},
        store=False,
        parallel_tool_calls=True,
        n=1,
    )


def test_completions_take_one_prompt_in_a_list(server):
    one = {"model": MAIN, "prompt": ["the cat"], "max_tokens": 4, "temperature": 0}
    status, body, _ = call(server, "POST", "/v1/completions", one)
    assert status == 200
    assert body["choices"][0]["text"]
    status, body, _ = call(server, "POST", "/v1/completions", {**one, "prompt": ["a", "b"]})
    assert status == 400
    assert body["error"]["message"] == "prompt is too long (at most 1 item)"
    status, body, _ = call(server, "POST", "/v1/completions", {**one, "prompt": [1, 2, 3]})
    assert status == 400
    assert body["error"]["code"] == "invalid_value"
    status, body, _ = call(server, "POST", "/v1/completions", {**one, "echo": True})
    assert status == 400
    assert body["error"]["param"] == "echo"


def test_a_stop_string_ends_the_reply(server):
    full = reply(server, max_tokens=30)["choices"][0]["message"]["content"]
    word = full.split()[2] if len(full.split()) > 3 else full[5:8]
    cut = reply(server, max_tokens=30, stop=[word, ""])
    assert cut["choices"][0]["finish_reason"] == "stop"
    assert word not in cut["choices"][0]["message"]["content"]

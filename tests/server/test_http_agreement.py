"""The server does what /openapi.json says and answers as HTTP says (issue 29): a wrong method
is a 405 with the route's own methods, a preflight lists only those, a Host or Origin no
browser could send is refused, and three shapes the schema allowed but the server refused
now agree, checked with the real openai client."""

from __future__ import annotations

import openai
import pytest

from app.server.guard import host_of, is_loopback_origin
from app.server.openapi import openapi_schema
from tests.server.conftest import MAIN, Served, call, chat_body, raw_exchange


def raw_request(srv: Served, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    status, headers, data, _ = raw_exchange(srv, head.encode() + body)
    return status, headers, data


# --- methods -----------------------------------------------------------------------------------
@pytest.mark.parametrize("media", ["application/json", "text/plain", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("path", ["/v1/models", "/api/v0/models/test/tiny/main.gguf", "/openapi.json", "/"])
def test_a_post_to_a_get_route_is_405_whatever_its_type(server, path, media):
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {media}\r\nContent-Length: 2\r\n\r\n"
    status, headers, body = raw_request(server, head, b"{}")
    assert status == 405, body
    assert headers["allow"] == "GET, HEAD, OPTIONS"
    assert b'"method_not_allowed"' in body


def test_a_form_post_to_a_post_route_is_still_415_and_to_nowhere_404(server):
    head = "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
    assert raw_request(server, head.format("/v1/chat/completions"), b"{}")[0] == 415
    assert raw_request(server, head.format("/v1/nothing"), b"{}")[0] == 404


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/v1/chat/completions", "POST, OPTIONS"),
        ("/api/v0/completions", "POST, OPTIONS"),
        ("/v1/models", "GET, HEAD, OPTIONS"),
        ("/v1/models/test/tiny/main.gguf", "GET, HEAD, OPTIONS"),
    ],
)
def test_a_preflight_lists_only_the_routes_methods(server, path, allow):
    origin = "http://localhost:3000"
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    status, _, got = call(server, "OPTIONS", path, headers=headers)
    assert status == 204
    assert got["allow"] == allow
    assert got["access-control-allow-methods"] == allow
    assert call(server, "OPTIONS", "/v1/nothing", headers=headers)[0] == 404


# --- Host and Origin as a browser writes them ----------------------------------------------------
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}@evil.example",
        "localhost:{port}@evil.example",
        "[::1]:{port}@evil.example",
        "127.0.0.1:{port}/x",
        "localhost:port",
        "user@localhost",
        "localhost:{port}:{port}",
    ],
)
def test_a_host_no_browser_sends_is_refused(server, host):
    value = host.format(port=server.port)
    head = f"GET /v1/models HTTP/1.1\r\nHost: {value}\r\n\r\n"
    status, _, body = raw_request(server, head)
    assert status in (400, 403), body  # 400: refused by the HTTP parser already
    assert b"/v1/models" not in body
    assert b'"data"' not in body


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example@localhost",
        "http://evil.example@127.0.0.1:3000",
        "http://localhost:3000/page",
        "http://localhost?x=1",
        "ftp://localhost",
        "http://localhost#x",
    ],
)
def test_an_origin_no_browser_sends_is_refused(server, origin):
    status, body, headers = call(server, "GET", "/v1/models", headers={"Origin": origin})
    assert status == 403
    assert body["error"]["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in headers


def test_the_parsers_on_their_own():
    assert host_of("127.0.0.1:8080@evil.example") is None
    assert host_of("localhost:8080") == "localhost"
    assert host_of("[::1]:80") == "::1"
    assert host_of("::1") == "::1"
    assert host_of("") is None
    assert is_loopback_origin("http://localhost:3000")
    assert is_loopback_origin("https://[::1]:8443")
    assert not is_loopback_origin("http://evil.example@localhost")
    assert not is_loopback_origin("null")


# --- the schema and the server agree --------------------------------------------------------------
def schema(name: str) -> dict:
    return openapi_schema()["components"]["schemas"][name]


def client(srv: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{srv.url}/v1", api_key="none", max_retries=0)


def test_a_tool_message_needs_content_in_the_schema_as_at_the_server(server):
    """OpenAI's API requires it too: a tool's result without content says nothing."""
    messages = chat_body()["messages"]
    kinds = openapi_schema()["components"]["schemas"]["ChatCompletionRequest"]["properties"]["messages"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in kinds["items"]["oneOf"]]
    roles = {n: schema(n)["properties"]["role"] for n in names}
    (tool,) = [schema(n) for n, role in roles.items() if "tool" in role.get("enum", [role.get("const")])]
    assert "content" in tool["required"]
    assistant = schema("AssistantInput")
    assert "content" not in assistant.get("required", [])
    api = client(server)
    reply = api.chat.completions.create(
        model=MAIN,
        messages=[*messages, {"role": "tool", "tool_call_id": "1", "content": "42"}],
        max_tokens=2,
    )
    assert reply.choices[0].message.content is not None
    with pytest.raises(openai.BadRequestError, match=r"messages\[1\]\.content is required"):
        api.chat.completions.create(
            model=MAIN,
            messages=[*messages, {"role": "tool", "tool_call_id": "1"}],  # type: ignore[list-item]
            max_tokens=2,
        )


def test_max_tokens_and_max_completion_tokens_together_mean_the_smaller(server):
    assert "smaller" in str(schema("ChatCompletionRequest")["properties"]["max_completion_tokens"])
    reply = client(server).chat.completions.create(
        model=MAIN,
        messages=chat_body()["messages"],
        max_tokens=6,
        max_completion_tokens=3,
        temperature=0,
    )
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


def test_prompt_lists_of_one_are_what_the_schema_allows(server):
    prompt = schema("CompletionRequest")["properties"]["prompt"]
    as_list = next(branch for branch in prompt["anyOf"] if branch.get("type") == "array")
    assert as_list["minItems"] == as_list["maxItems"] == 1
    assert as_list["items"] == {"type": "string"}
    api = client(server)
    reply = api.completions.create(model=MAIN, prompt=["the cat"], max_tokens=3, temperature=0)
    assert reply.choices[0].text
    with pytest.raises(openai.BadRequestError, match="at most 1 item"):
        api.completions.create(model=MAIN, prompt=["the cat", "the dog"], max_tokens=3)
    with pytest.raises(openai.BadRequestError):
        api.completions.create(model=MAIN, prompt=[1, 2, 3], max_tokens=3)


def test_n_over_1_is_refused_by_the_schema_too(server):
    n = schema("ChatCompletionRequest")["properties"]["n"]["anyOf"][0]
    assert n["maximum"] == 1
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(n=2))
    assert status == 400
    assert body["error"]["param"] == "n"


@pytest.mark.parametrize("seed", [-1, -5, 2**64 - 1])
def test_every_seed_the_schema_allows_gives_a_reply(server, seed):
    """Found by bench/schema_fuzz.py: a negative seed passed the schema and failed the reply
    with a 500 (numpy takes no negative seeds)."""
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(seed=seed, temperature=1))
    assert status == 200, body

"""/openapi.json describes the Responses, Messages and REST v1 routes from the same
declarations as the rest (every route the app serves, every reference resolved, the draft
fields with their declared ranges under each API's names), and bodies fuzzed from it get a
200 or a 4xx in the API's own shape, never a crash."""

from __future__ import annotations

import json
import random
import re
import time

from starlette.routing import Route

from app.core import model_settings
from app.server.asgi import build_app
from app.server.config import ServerConfig
from app.server.jobs import JobSet
from app.server.openapi import openapi_schema, request_schema
from tests.server.conftest import MAIN, call

NEW_POSTS = ["/v1/responses", "/v1/messages", "/v1/messages/count_tokens", "/api/v1/chat"]


def _routes(app: object) -> set[str]:
    """The paths of the Starlette app inside the server's middleware."""
    while not hasattr(app, "routes"):
        app = app.app  # type: ignore[attr-defined]
    return {r.path.replace("{model:path}", "{model}") for r in app.routes if isinstance(r, Route)}


def test_every_route_is_described_and_every_reference_resolves(server):
    doc = openapi_schema()
    app = build_app(server.runtime, ServerConfig(), JobSet(), server.server.jit, lambda record: None)
    served = _routes(app)
    documented = {p.replace("{job_id}", "") for p in doc["paths"]}
    assert {p.replace("/{job_id}", "") for p in served} - {"/", "/openapi.json"} <= documented
    names = set(doc["components"]["schemas"])
    refs = set(re.findall(r"#/components/schemas/([A-Za-z0-9_]+)", json.dumps(doc)))
    assert refs <= names
    assert not [n for n in names if "__" in n]


def test_each_api_takes_the_declared_settings_under_its_own_names():
    declared = set(model_settings.api_specs())
    responses = request_schema("/v1/responses")["properties"]
    assert declared - {"max_tokens"} <= set(responses)
    assert "max_tokens" not in responses
    assert responses["max_output_tokens"]["default"] == model_settings.SPECS["max_tokens"].default
    rest = request_schema("/api/v1/chat")["properties"]
    assert declared - {"max_tokens"} <= set(rest)
    assert "max_output_tokens" in rest
    messages = request_schema("/v1/messages")
    assert declared <= set(messages["properties"])
    assert "max_tokens" in messages["required"]
    draft_max = messages["properties"]["draft_max"]["anyOf"][0]
    spec = model_settings.SPECS["draft_max"]
    assert (draft_max["minimum"], draft_max["maximum"]) == (spec.minimum, spec.maximum)
    doc = openapi_schema()
    stream = doc["paths"]["/v1/messages"]["post"]["responses"]["200"]["content"]["text/event-stream"]
    assert {"$ref": "#/components/schemas/AnthropicMessageDeltaEvent"} in stream["schema"]["oneOf"]
    error = doc["paths"]["/api/v1/chat"]["post"]["responses"]["400"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/RestError"}


def _value(rng: random.Random) -> object:
    return rng.choice(
        [
            None,
            True,
            -1,
            0,
            2**40,
            1.5,
            float("nan"),
            "",
            "x" * rng.randint(1, 30),
            "\x00",
            [],
            {},
            [1, "a"],
            MAIN,
            "the cat",
            [{"role": "user", "content": "hi"}],
            [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            [{"type": "text", "content": "hi"}],
            [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            {"type": "text"},
        ]
    )


def _shape_is_right(path: str, body: dict) -> bool:
    if path.startswith("/v1/messages"):
        return body["type"] == "error" and set(body["error"]) == {"type", "message"}
    if path.startswith("/api/v1/"):
        return set(body["error"]) == {"type", "message", "code", "param"}
    return set(body["error"]) == {"message", "type", "code", "param"}


def test_bounded_fuzz_from_the_openapi_schema(server):
    rng = random.Random(26)
    deadline = time.monotonic() + 45
    for i in range(120):
        if time.monotonic() > deadline:
            break
        path = NEW_POSTS[i % len(NEW_POSTS)]
        schema = request_schema(path)
        body: dict = {}
        for name in schema["properties"]:
            if name in schema.get("required", []) or rng.random() < 0.3:
                body[name] = _value(rng)
        if rng.random() < 0.8:
            body["model"] = MAIN
        for cap in ("max_tokens", "max_output_tokens"):
            if cap in schema["properties"] and rng.random() < 0.9:
                body[cap] = rng.choice([1, 2, 4])
        body["stream"] = False
        status, answer, _ = call(server, "POST", path, raw=json.dumps(body).encode())
        assert status in (200, 400, 404), (path, status, answer, body)
        if status != 200:
            assert _shape_is_right(path, answer), (path, answer)
    assert call(server, "GET", "/api/v1/models")[0] == 200

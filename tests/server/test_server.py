"""A real server on 127.0.0.1, driven by the real `openai` client and by raw HTTP."""

from __future__ import annotations

import http.client
import json
import random
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.core.errors import InvalidRequestError
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import models_dir
from app.server.http_server import SpeculaServer
from app.server.openapi import openapi_schema
from tests.model_factory import tiny_vocab, write_tiny_gguf

MAIN, TWIN, OTHER = "test/tiny/main.gguf", "test/tiny/twin.gguf", "test/tiny/other.gguf"


@pytest.fixture
def library(tiny_main: Path, tiny_twin: Path) -> None:
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_main, folder / "main.gguf")
    shutil.copy(tiny_twin, folder / "twin.gguf")
    write_tiny_gguf(folder / "other.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))


def start(**kwargs: object) -> SpeculaServer:
    server = SpeculaServer("127.0.0.1", 0, **kwargs)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server(library: None) -> Iterator[SpeculaServer]:
    srv = start()
    yield srv
    srv.shutdown()
    srv.server_close()
    srv.runtime.close()


def call(
    srv: SpeculaServer,
    method: str,
    path: str,
    body: object = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict, dict]:
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    return resp.status, (json.loads(text) if text.startswith("{") else {"raw": text}), dict(resp.getheaders())


def chat_body(**extra: object) -> dict:
    return {
        "model": MAIN,
        "messages": [{"role": "user", "content": "the cat"}],
        "max_tokens": 16,
        "temperature": 0,
        "repeat_penalty": 1.0,
        **extra,
    }


def test_models_endpoints(server):
    status, body, _ = call(server, "GET", "/v1/models")
    assert status == 200 and {m["id"] for m in body["data"]} == {MAIN, TWIN, OTHER}
    status, body, _ = call(server, "GET", "/api/v0/models")
    main = next(m for m in body["data"] if m["id"] == MAIN)
    assert main["engine"] == "llama.cpp" and main["arch"] == "llama" and main["state"] == "not-loaded"
    assert main["quantization"] == "ALL_F32"


def test_openai_client_plain_and_streaming_agree(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="unused")
    full = client.chat.completions.create(
        model=MAIN, messages=[{"role": "user", "content": "hello"}], max_tokens=20, temperature=0
    )
    text = full.choices[0].message.content
    assert text and full.usage.completion_tokens == 20 and full.choices[0].finish_reason == "length"
    pieces = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model=MAIN,
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=20,
            temperature=0,
            stream=True,
        )
    ]
    assert "".join(pieces) == text
    comp = client.completions.create(model=MAIN, prompt="the dog", max_tokens=8, temperature=0)
    assert comp.choices[0].text


def test_rest_stats_with_a_draft_from_the_body(server):
    status, body, _ = call(
        server, "POST", "/api/v0/chat/completions", chat_body(draft_model=TWIN, draft_p_min=0)
    )
    assert status == 200, body
    s = body["stats"]
    assert s["draft_model"] == "twin.gguf" and s["accepted_draft_tokens_count"] > 0
    assert s["total_draft_tokens_count"] == (
        s["accepted_draft_tokens_count"] + s["rejected_draft_tokens_count"] + s["ignored_draft_tokens_count"]
    )
    plain = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert plain["choices"][0]["message"]["content"] == body["choices"][0]["message"]["content"]


def test_a_draft_with_another_tokenizer_is_accepted_and_changes_nothing(server):
    body = chat_body(draft_model=OTHER, draft_p_min=0)
    status, drafted, _ = call(server, "POST", "/api/v0/chat/completions", body)
    assert status == 200, drafted
    assert drafted["stats"]["draft_model"] == "other.gguf"
    assert drafted["stats"]["total_draft_tokens_count"] > 0
    plain = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert plain["choices"][0]["message"]["content"] == drafted["choices"][0]["message"]["content"]


def test_streamed_chunks_carry_origin_and_the_last_one_stats(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request(
        "POST",
        "/api/v0/completions",
        body=json.dumps(
            {
                "model": MAIN,
                "prompt": "the",
                "max_tokens": 24,
                "temperature": 0,
                "stream": True,
                "draft_model": TWIN,
                "draft_p_min": 0,
            }
        ),
        headers={"Content-Type": "application/json"},
    )
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    events = [line[6:] for line in resp.read().decode().splitlines() if line.startswith("data: ")]
    conn.close()
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    stats = chunks[-1]["stats"]
    draft_chunks = sum(1 for c in chunks if c["choices"][0].get("draft"))
    assert draft_chunks == stats["accepted_draft_tokens_count"] > 0
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_the_models_default_draft_applies_unless_the_request_says_otherwise(server):
    ModelDefaultsStore().update(MAIN, {"draft_model": TWIN})
    server.runtime.defaults = ModelDefaultsStore()
    body = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert body["stats"]["draft_model"] == "twin.gguf"
    body = call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model=""))[1]
    assert body["stats"]["draft_model"] is None


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        ("/v1/chat/completions", b"{not json", 400, "invalid_json"),
        (
            "/v1/chat/completions",
            {"model": "nope", "messages": [{"role": "user", "content": "x"}]},
            404,
            "model_not_found",
        ),
        ("/v1/chat/completions", chat_body(draft_model=MAIN), 400, "incompatible_draft"),
        (
            "/v1/chat/completions",
            chat_body(messages=[{"role": "user", "content": "the cat " * 400}]),
            400,
            "context_length_exceeded",
        ),
        ("/v1/chat/completions", chat_body(temperature="hot"), 400, "invalid_value"),
        ("/v1/chat/completions", chat_body(messages="hi"), 400, "invalid_messages"),
        (
            "/v1/chat/completions",
            chat_body(messages=[{"role": "robot", "content": "x"}]),
            400,
            "invalid_messages",
        ),
        ("/v1/completions", {"model": MAIN}, 400, "invalid_prompt"),
        ("/v1/completions", b"x" * (1024 * 1024 + 1), 413, "body_too_large"),
        ("/v1/nothing", {}, 404, "not_found"),
    ],
)
def test_bad_requests_get_openai_style_errors_and_the_server_keeps_serving(
    server, path, payload, status, code
):
    raw = payload if isinstance(payload, bytes) else None
    got, body, _ = call(server, "POST", path, None if raw else payload, raw=raw)
    assert got == status, body
    assert body["error"]["code"] == code and body["error"]["message"] and body["error"]["type"]
    assert call(server, "GET", "/v1/models")[0] == 200


def test_api_key_and_cors(library):
    with pytest.raises(InvalidRequestError, match="requires an API key"):
        SpeculaServer("0.0.0.0", 0)
    srv = start(api_key="sekret", cors=True)
    try:
        status, body, _ = call(srv, "GET", "/v1/models")
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
        status, _, headers = call(srv, "GET", "/v1/models", headers={"Authorization": "Bearer sekret"})
        assert status == 200 and headers.get("Access-Control-Allow-Origin") == "*"
    finally:
        srv.shutdown()
        srv.server_close()
    plain = start()
    try:
        _, _, headers = call(plain, "GET", "/v1/models")
        assert "Access-Control-Allow-Origin" not in headers
    finally:
        plain.shutdown()
        plain.server_close()


def test_concurrent_requests_queue_and_all_complete(server):
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        status = call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=32))[0]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [200] * 6 and time.monotonic() - t0 < 60


def test_openapi_schema_describes_every_route(server):
    status, body, _ = call(server, "GET", "/openapi.json")
    assert status == 200 and set(body["paths"]) == set(openapi_schema()["paths"])


def _mutations(rng: random.Random, schema: dict) -> dict:
    """A body built from the schema, then bent: wrong types, missing fields, odd values."""
    props = schema["properties"]
    body: dict = {}
    for name in props:
        if name in schema.get("required", []) or rng.random() < 0.4:
            body[name] = rng.choice(
                [
                    None,
                    True,
                    -1,
                    0,
                    2**40,
                    1.5,
                    "",
                    "x" * rng.randint(1, 50),
                    [],
                    {},
                    [1, "a"],
                    MAIN,
                    [{"role": "user", "content": "hi"}],
                    "the cat",
                ]
            )
    if rng.random() < 0.3 and body:
        body.pop(rng.choice(list(body)))
    body["max_tokens"] = rng.choice([1, 4, 8]) if rng.random() < 0.8 else body.get("max_tokens")
    return body


def test_bounded_fuzz_from_the_openapi_schema(server):
    rng = random.Random(1234)
    schema = openapi_schema()
    posts = [
        (p, v["post"]["requestBody"]["content"]["application/json"]["schema"])
        for p, v in schema["paths"].items()
        if "post" in v
    ]
    deadline = time.monotonic() + 60
    for i in range(160):
        if time.monotonic() > deadline:
            break
        path, body_schema = posts[i % len(posts)]
        status, body, _ = call(server, "POST", path, _mutations(rng, body_schema))
        assert status in (200, 400, 404), (path, status, body)
        if status != 200 and "raw" not in body:
            assert set(body["error"]) == {"message", "type", "code"}
    assert call(server, "GET", "/v1/models")[0] == 200


@pytest.mark.slow
def test_a_client_that_disconnects_cancels_its_generation_at_once(library):
    from tests.model_factory import gemma_q4

    folder = models_dir() / "google" / "gemma"
    folder.mkdir(parents=True)
    shutil.copy(gemma_q4(), folder / "gemma.gguf")
    srv = start()
    try:
        host, port = srv.server_address[:2]
        body = json.dumps(
            {
                "model": "google/gemma/gemma.gguf",
                "prompt": "Once upon a time",
                "max_tokens": 3000,
                "temperature": 0,
                "stream": True,
            }
        ).encode()
        sock = socket.create_connection((host, port))
        sock.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        received = b""
        while b"data: " not in received:
            chunk = sock.recv(4096)
            assert chunk, "server closed the stream early"
            received += chunk
        sock.close()
        t0 = time.monotonic()
        status, after, _ = call(
            srv,
            "POST",
            "/v1/completions",
            {"model": "google/gemma/gemma.gguf", "prompt": "Hi", "max_tokens": 4},
        )
        assert status == 200, after
        assert time.monotonic() - t0 < 10  # 3000 tokens would take over a minute here
    finally:
        srv.shutdown()
        srv.server_close()
        srv.runtime.close()


# --- through the model runtime ----------------------------------------------------------------
def test_a_model_asked_to_draft_for_itself_is_refused(server):
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model=MAIN))
    assert status == 400 and body["error"]["code"] == "incompatible_draft"
    assert "cannot draft for itself" in body["error"]["message"]
    assert server.runtime.loaded() == []  # refused before loading anything


def test_a_draft_with_a_small_context_of_its_own_still_drafts_a_long_reply(server):
    ModelDefaultsStore().update(TWIN, {"context_length": 256})
    server.runtime.defaults = ModelDefaultsStore()
    status, body, _ = call(
        server,
        "POST",
        "/api/v0/completions",
        {
            "model": MAIN,
            "draft_model": TWIN,
            "prompt": "the",
            "max_tokens": 400,
            "temperature": 0,
            "draft_p_min": 0,
            "draft_max": 4,
            "draft_auto": False,
        },
    )
    assert status == 200, body
    s = body["stats"]
    assert body["usage"]["completion_tokens"] == 400 and s["stop_reason"] == "max_tokens"
    assert s["accepted_draft_tokens_count"] > 256
    loaded = {i.key: i.n_ctx for i in server.runtime.loaded()}
    assert loaded[TWIN] >= loaded[MAIN] > 256


def test_prompt_lookup_as_the_draft(server):
    status, body, _ = call(
        server,
        "POST",
        "/api/v0/completions",
        {"model": MAIN, "prompt": "the cat the cat the cat", "max_tokens": 8, "draft_model": "prompt-lookup"},
    )
    assert status == 200 and body["stats"]["draft_model"] == "Prompt lookup (no draft model)"


def test_requests_with_a_draft_do_not_read_model_headers_again(server, monkeypatch):
    assert call(server, "POST", "/v1/chat/completions", chat_body(draft_model=TWIN))[0] == 200

    def no_more(*_a: object, **_k: object) -> None:
        raise AssertionError("a model header was read for a request")

    monkeypatch.setattr("app.library.draft_rules.read_gguf", no_more)
    monkeypatch.setattr("app.library.compat_index.check_vocab_pair", no_more)
    for _ in range(3):
        status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(draft_model=TWIN))
        assert status == 200, body


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("temperature", float("nan"), "temperature must be a finite number"),
        ("top_p", float("inf"), "top_p must be a finite number"),
        ("temperature", 9, "temperature must be <= 5"),
        ("repeat_penalty", 0.1, "repeat_penalty must be >= 0.5"),
        ("num_draft_tokens", 11, "num_draft_tokens must be <= 10"),
        ("draft_auto", "yes", "draft_auto must be true or false"),
    ],
)
def test_fields_are_checked_against_their_declarations(server, field, value, needle):
    raw = json.dumps(chat_body(**{field: value})).encode()  # json writes NaN / Infinity as Python does
    status, body, _ = call(server, "POST", "/v1/chat/completions", raw=raw)
    assert status == 400 and body["error"]["code"] == "invalid_value"
    assert body["error"]["message"] == needle


def test_openapi_fields_come_from_the_setting_declarations(server):
    props = openapi_schema()["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert props["draft_auto"]["type"] == "boolean" and props["draft_auto"]["default"] is True
    assert props["num_draft_tokens"] == {
        "type": "integer",
        "description": "Tokens the MLX draft model generates per round",
        "minimum": 1,
        "maximum": 10,
        "default": 2,
    }
    assert (props["temperature"]["minimum"], props["temperature"]["maximum"]) == (0.0, 5.0)
    assert (props["repeat_penalty"]["minimum"], props["repeat_penalty"]["maximum"]) == (0.5, 2.0)
    assert props["max_tokens"]["default"] == 1024


def test_mlx_models_are_served_too(library):
    pytest.importorskip("mlx_lm")
    from tests.mlx_factory import write_mlx_model

    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx", seed=0)
    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx-twin", seed=0)
    srv = start()
    try:
        status, body, _ = call(
            srv,
            "POST",
            "/api/v0/completions",
            {
                "model": "mlx-community/tiny-mlx",
                "draft_model": "mlx-community/tiny-mlx-twin",
                "prompt": "the cat",
                "max_tokens": 12,
                "temperature": 0,
                "num_draft_tokens": 3,
            },
        )
        assert status == 200, body
        assert body["stats"]["draft_model"] == "tiny-mlx-twin"
        assert body["stats"]["accepted_draft_tokens_count"] > 0
        models = call(srv, "GET", "/api/v0/models")[1]["data"]
        assert {m["id"]: m["state"] for m in models}["mlx-community/tiny-mlx"] == "loaded"
        status, body, _ = call(
            srv,
            "POST",
            "/v1/completions",
            {"model": "mlx-community/tiny-mlx", "draft_model": MAIN, "prompt": "x"},
        )
        assert status == 400 and body["error"]["code"] == "incompatible_draft"
        assert "MLX" in body["error"]["message"] and "llama.cpp" in body["error"]["message"]
    finally:
        srv.shutdown()
        srv.server_close()
        srv.runtime.close()


def test_a_chat_template_that_fails_is_a_400_with_the_templates_own_words(server):
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200
    with server.runtime.lease(MAIN) as lease:
        lease.main.info.metadata["tokenizer.chat_template"] = (
            "{% for m in messages %}{% if m.role == 'system' %}"
            "{{ raise_exception('System role not supported') }}{% endif %}{{ m.content }}{% endfor %}"
        )
    body = chat_body(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    status, answer, _ = call(server, "POST", "/v1/chat/completions", body)
    assert status == 400 and "System role not supported" in answer["error"]["message"]
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200  # no system turn: fine

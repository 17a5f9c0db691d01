"""The API on a real server on 127.0.0.1, driven by the real `openai` client and by raw HTTP:
models, completions plain and streamed, speculative stats, drafts, errors, the schema."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import shutil
import socket
import threading
import time

import pytest

from app.core.errors import InvalidRequestError
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import models_dir
from app.server.config import ServerConfig
from app.server.openapi import openapi_schema, request_schema
from app.server.serving import LocalServer
from tests.server.conftest import MAIN, OTHER, TWIN, call, chat_body, sse_events


def test_models_endpoints(server):
    status, body, _ = call(server, "GET", "/v1/models")
    assert status == 200
    assert {m["id"] for m in body["data"]} >= {MAIN, TWIN, OTHER}
    assert all(m["object"] == "model" and isinstance(m["created"], int) for m in body["data"])
    status, body, _ = call(server, "GET", "/api/v0/models")
    main = next(m for m in body["data"] if m["id"] == MAIN)
    assert main["engine"] == "llama.cpp"
    assert main["arch"] == "llama"
    assert main["state"] == "not-loaded"
    assert main["quantization"] == "ALL_F32"
    assert call(server, "GET", f"/v1/models/{MAIN}")[1]["id"] == MAIN
    assert call(server, "GET", f"/api/v0/models/{MAIN}/")[1]["state"] == "not-loaded"
    status, body, _ = call(server, "GET", "/v1/models/test/nope.gguf")
    assert status == 404
    assert body["error"]["code"] == "model_not_found"


def test_openai_client_plain_and_streaming_agree(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    full = client.chat.completions.create(
        model=MAIN, messages=[{"role": "user", "content": "hello"}], max_tokens=20, temperature=0
    )
    text = full.choices[0].message.content
    assert text
    assert full.usage.completion_tokens == 20
    assert full.choices[0].finish_reason == "length"
    chunks = list(
        client.chat.completions.create(
            model=MAIN,
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=20,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 20
    comp = client.completions.create(model=MAIN, prompt="the dog", max_tokens=8, temperature=0)
    assert comp.choices[0].text
    assert comp.usage.completion_tokens == 8
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model=MAIN, prompt="the dog", max_tokens=8, temperature=0, stream=True
        )
    )
    assert streamed == comp.choices[0].text


def test_async_openai_client_streams_several_requests_at_once(server):
    from openai import AsyncOpenAI

    async def main() -> list[str]:
        client = AsyncOpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)

        async def one(word: str) -> str:
            stream = await client.chat.completions.create(
                model=MAIN,
                messages=[{"role": "user", "content": word}],
                max_tokens=12,
                temperature=0,
                stream=True,
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream])

        try:
            return await asyncio.gather(*(one(w) for w in ("the", "cat", "the")))
        finally:
            await client.close()

    texts = asyncio.run(main())
    assert texts[0] == texts[2]
    assert all(texts)


def test_rest_stats_with_a_draft_from_the_body(server):
    status, body, _ = call(
        server,
        "POST",
        "/api/v0/chat/completions",
        chat_body(draft_model=TWIN, draft_p_min=0, draft_auto=False),
    )
    assert status == 200, body
    s = body["stats"]
    assert s["draft_model"] == "twin.gguf"
    assert s["accepted_draft_tokens_count"] > 0
    assert s["total_draft_tokens_count"] == (
        s["accepted_draft_tokens_count"] + s["rejected_draft_tokens_count"] + s["ignored_draft_tokens_count"]
    )
    # the per-request speculative metrics: tokens per verify step and acceptance by position
    assert s["verify_steps"] > 0
    assert s["mean_tokens_per_step"] > 1.0
    assert s["mean_tokens_per_step"] == pytest.approx(body["usage"]["completion_tokens"] / s["verify_steps"])
    assert s["acceptance_rate"] == 1.0
    assert s["acceptance_by_position"][0] == 1.0
    plain = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert plain["choices"][0]["message"]["content"] == body["choices"][0]["message"]["content"]
    assert plain["stats"]["acceptance_by_position"] == []
    assert plain["stats"]["acceptance_rate"] is None
    assert plain["stats"]["mean_tokens_per_step"] < 1.1 < s["mean_tokens_per_step"]  # 16 tokens in 15 steps
    assert "stats" not in call(server, "POST", "/v1/chat/completions", chat_body())[1]  # OpenAI shape


def test_a_draft_with_another_tokenizer_is_accepted_and_changes_nothing(server):
    # fixed draft lengths: whether Auto sends this random draft's few translatable tokens
    # depends on timing, and the test must not
    body = chat_body(draft_model=OTHER, draft_p_min=0, draft_auto=False)
    status, drafted, _ = call(server, "POST", "/api/v0/chat/completions", body)
    assert status == 200, drafted
    assert drafted["stats"]["draft_model"] == "other.gguf"
    assert drafted["stats"]["total_draft_tokens_count"] > 0
    plain = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert plain["choices"][0]["message"]["content"] == drafted["choices"][0]["message"]["content"]


def test_streamed_chunks_carry_origin_and_the_last_one_stats(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = {
        "model": MAIN,
        "prompt": "the",
        "max_tokens": 24,
        "temperature": 0,
        "stream": True,
        "draft_model": TWIN,
        "draft_p_min": 0,
    }
    conn.request("POST", "/api/v0/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/event-stream")
    events = sse_events(resp.read().decode())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    stats = chunks[-1]["stats"]
    draft_chunks = sum(1 for c in chunks if c["choices"][0].get("draft"))
    assert draft_chunks == stats["accepted_draft_tokens_count"] - stats["accepted_after_stop_count"] > 0
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert stats["mean_tokens_per_step"] > 1
    assert stats["acceptance_by_position"]
    # keep-alive: the same connection serves the next request after a stream
    conn.request("GET", "/v1/models")
    assert conn.getresponse().status == 200
    conn.close()


def test_the_models_default_draft_applies_unless_the_request_says_otherwise(server):
    ModelDefaultsStore().update(MAIN, {"draft_model": TWIN})
    server.runtime.defaults = ModelDefaultsStore()
    body = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert body["stats"]["draft_model"] == "twin.gguf"
    body = call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model=""))[1]
    assert body["stats"]["draft_model"] is None
    body = call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model="none"))[1]
    assert body["stats"]["draft_model"] is None


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        ("/v1/chat/completions", b"{not json", 400, "invalid_json"),
        ("/v1/chat/completions", b"", 400, "invalid_json"),
        ("/v1/chat/completions", b"[1, 2]", 400, "invalid_json"),
        ("/v1/chat/completions", b'{"model": "\xff"}', 400, "invalid_json"),
        (
            "/v1/chat/completions",
            {"model": "nope", "messages": [{"role": "user", "content": "x"}]},
            404,
            "model_not_found",
        ),
        ("/v1/chat/completions", chat_body(draft_model="nope.gguf"), 404, "model_not_found"),
        ("/v1/chat/completions", chat_body(draft_model=MAIN), 400, "incompatible_draft"),
        (
            "/v1/chat/completions",
            chat_body(messages=[{"role": "user", "content": "the cat " * 400}]),
            400,
            "context_length_exceeded",
        ),
        ("/v1/chat/completions", chat_body(temperature="hot"), 400, "invalid_value"),
        ("/v1/chat/completions", chat_body(messages="hi"), 400, "invalid_value"),
        ("/v1/chat/completions", chat_body(messages=[]), 400, "invalid_value"),
        (
            "/v1/chat/completions",
            chat_body(messages=[{"role": "robot", "content": "x"}]),
            400,
            "invalid_value",
        ),
        ("/v1/completions", {"model": MAIN}, 400, "invalid_value"),
        ("/v1/completions", b"x" * (1024 * 1024 + 1), 413, "body_too_large"),
        ("/v1/nothing", {}, 404, "not_found"),
    ],
)
def test_bad_requests_get_openai_style_errors_and_the_server_keeps_serving(
    server, path, payload, status, code
):
    raw = payload if isinstance(payload, bytes) else None
    got, body, _ = call(server, "POST", path, None if raw is not None else payload, raw=raw)
    assert got == status, body
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["error"]["type"]
    assert call(server, "GET", "/v1/models")[0] == 200


def test_api_key_is_required_off_loopback_and_checked_in_constant_time(library, monkeypatch):
    with pytest.raises(InvalidRequestError, match="requires an API key"):
        LocalServer(ServerConfig(host="0.0.0.0", port=0))
    compared: list[tuple[bytes, bytes]] = []
    import hmac

    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr("app.server.guard.hmac.compare_digest", spy)
    srv = LocalServer(ServerConfig(port=0, api_key="sekret"))
    srv.start()
    try:
        from tests.server.conftest import Served

        s = Served(srv, [])
        status, body, _ = call(s, "GET", "/v1/models")
        assert status == 401
        assert body["error"]["code"] == "invalid_api_key"
        assert call(s, "GET", "/v1/models", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert call(s, "GET", "/v1/models", headers={"Authorization": "Bearer sekret"})[0] == 200
        assert (b"sekret", b"sekret") in compared  # through hmac.compare_digest, not ==
        # with a key, another Host name is fine (a page cannot know the key)
        assert (
            call(s, "GET", "/v1/models", headers={"Authorization": "Bearer sekret", "Host": "box.lan"})[0]
            == 200
        )
    finally:
        srv.stop()


def test_concurrent_requests_queue_and_all_complete(server):
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        status = call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=32))[0]
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [200] * 6


def test_openapi_schema_describes_every_route(server):
    status, body, _ = call(server, "GET", "/openapi.json")
    assert status == 200
    assert body == openapi_schema()
    assert set(body["paths"]) >= {
        "/v1/models",
        "/v1/chat/completions",
        "/v1/completions",
        "/api/v0/models",
        "/api/v0/chat/completions",
        "/api/v0/completions",
    }


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
            float("inf"),
            "",
            "x" * rng.randint(1, 50),
            "\x00",
            [],
            {},
            [1, "a"],
            MAIN,
            [{"role": "user", "content": "hi"}],
            [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "the cat",
        ]
    )


def test_bounded_fuzz_from_the_openapi_schema(server):
    """Bodies built from the published schema, then bent: only 200, 400 or 404 come back."""
    rng = random.Random(1234)
    paths = ["/v1/chat/completions", "/v1/completions", "/api/v0/chat/completions", "/api/v0/completions"]
    deadline = time.monotonic() + 60
    for i in range(160):
        if time.monotonic() > deadline:
            break
        path = paths[i % len(paths)]
        schema = request_schema(path)
        body: dict = {}
        for name in schema["properties"]:
            if name in schema.get("required", []) or rng.random() < 0.3:
                body[name] = _value(rng)
        if rng.random() < 0.8:
            body["max_tokens"] = rng.choice([1, 4, 8])
        body["stream"] = False
        raw = json.dumps(body).encode()
        status, answer, _ = call(server, "POST", path, raw=raw)
        assert status in (200, 400, 404), (path, status, answer, body)
        if status != 200:
            assert set(answer["error"]) == {"message", "type", "code", "param"}
    assert call(server, "GET", "/v1/models")[0] == 200


@pytest.mark.slow
def test_a_client_that_disconnects_cancels_its_generation_at_once(make_server):
    from tests.model_factory import gemma_q4

    folder = models_dir() / "google" / "gemma"
    folder.mkdir(parents=True)
    shutil.copy(gemma_q4(), folder / "gemma.gguf")
    srv = make_server()
    body = json.dumps(
        {
            "model": "google/gemma/gemma.gguf",
            "prompt": "Once upon a time",
            "max_tokens": 3000,
            "temperature": 0,
            "stream": True,
        }
    ).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(
        b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    received = b""
    while received.count(b"data: ") < 2:
        chunk = sock.recv(4096)
        assert chunk, "server closed the stream early"
        received += chunk
    sock.close()
    t0 = time.monotonic()
    status, after, _ = call(
        srv, "POST", "/v1/completions", {"model": "google/gemma/gemma.gguf", "prompt": "Hi", "max_tokens": 4}
    )
    assert status == 200, after
    assert time.monotonic() - t0 < 10  # 3000 tokens would take over a minute here


# --- through the model runtime ----------------------------------------------------------------
def test_a_model_asked_to_draft_for_itself_is_refused(server):
    status, body, _ = call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model=MAIN))
    assert status == 400
    assert body["error"]["code"] == "incompatible_draft"
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
    assert body["usage"]["completion_tokens"] == 400
    assert s["stop_reason"] == "max_tokens"
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
    assert status == 200
    assert body["stats"]["draft_model"] == "Prompt lookup (no draft model)"


def test_a_draft_is_named_by_library_name_never_by_path(server, tiny_twin):
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(draft_model=str(tiny_twin)))
    assert status == 404
    assert body["error"]["param"] == "draft_model"
    named = f"{str(tiny_twin)!r} in the library (see GET /v1/models)"
    assert body["error"]["message"] == f"no draft model named {named}"
    status, body, _ = call(server, "POST", "/v1/chat/completions", chat_body(model=str(tiny_twin)))
    assert status == 404
    assert body["error"]["param"] == "model"
    assert body["error"]["message"] == f"no model named {named}"


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
        ("max_tokens", float("nan"), "max_tokens must be a finite number"),
        ("max_tokens", float("inf"), "max_tokens must be a finite number"),
        ("max_tokens", 2.5, "max_tokens must be a whole number"),
        ("max_tokens", "10", "max_tokens must be a whole number"),
        ("max_tokens", 0, "max_tokens must be >= 1"),
        ("top_k", float("nan"), "top_k must be a finite number"),
        ("seed", 2**70, "seed must be <= 18446744073709551615"),
        ("draft_p_min", True, "draft_p_min must be a number"),
    ],
)
def test_fields_are_checked_against_their_declarations(server, field, value, needle):
    raw = json.dumps(chat_body(**{field: value})).encode()  # json writes NaN / Infinity as Python does
    status, body, _ = call(server, "POST", "/v1/chat/completions", raw=raw)
    assert status == 400
    assert body["error"]["code"] == "invalid_value"
    assert body["error"]["message"] == needle
    assert body["error"]["param"] == field


def test_1e400_is_infinity_and_refused(server):
    raw = json.dumps(chat_body()).replace('"max_tokens": 16', '"max_tokens": 1e400').encode()
    status, body, _ = call(server, "POST", "/v1/chat/completions", raw=raw)
    assert status == 400
    assert body["error"]["message"] == "max_tokens must be a finite number"


def test_openapi_fields_come_from_the_setting_declarations():
    props = request_schema("/v1/chat/completions")["properties"]
    assert props["draft_auto"]["anyOf"][0] == {"type": "boolean"}
    assert props["draft_auto"]["default"] is True
    num = props["num_draft_tokens"]
    assert num["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 10}
    assert num["default"] == 2
    assert num["description"].startswith("Tokens the MLX draft model generates per round")
    temperature = props["temperature"]["anyOf"][0]
    assert (temperature["minimum"], temperature["maximum"]) == (0.0, 5.0)
    assert props["max_tokens"]["default"] == 1024
    from app.core import model_settings

    assert set(model_settings.api_specs()) <= set(props)  # every declared API field, no other list


def test_mlx_models_are_served_too(make_server):
    pytest.importorskip("mlx_lm")
    from tests.mlx_factory import write_mlx_model

    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx", seed=0)
    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx-twin", seed=0)
    srv = make_server()
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
    assert status == 400
    assert body["error"]["code"] == "incompatible_draft"
    assert "MLX" in body["error"]["message"]
    assert "llama.cpp" in body["error"]["message"]


def test_a_chat_template_that_fails_is_a_400_with_the_templates_own_words(server):
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200
    with server.runtime.lease(MAIN) as lease:
        lease.main.info.metadata["tokenizer.chat_template"] = (
            "{% for m in messages %}{% if m.role == 'system' %}"
            "{{ raise_exception('System role not supported') }}{% endif %}{{ m.content }}{% endfor %}"
        )
    body = chat_body(messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    status, answer, _ = call(server, "POST", "/v1/chat/completions", body)
    assert status == 400
    assert "System role not supported" in answer["error"]["message"]
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200  # no system turn: fine


def test_a_reply_that_fills_the_context_says_so(server):
    """Past the loaded context nothing more fits: the API's "length", with the honest reason."""
    body = {"model": MAIN, "prompt": "the", "max_tokens": 100_000, "temperature": 0}
    status, body, _ = call(server, "POST", "/api/v0/completions", body)
    assert status == 200, body
    n_ctx = server.runtime.loaded()[0].n_ctx
    assert body["stats"]["stop_reason"] == "context_full"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] == n_ctx + 1

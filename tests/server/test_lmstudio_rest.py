"""LM Studio's REST v1 (/api/v1/...) on a real server, over plain HTTP (httpx): the greedy chat
with a draft is the plain one, streamed in LM Studio's events with the draft stats in the
result's `stats`; stateful chats within the server's life; models listed, loaded and
unloaded; what this server cannot do refused by name in LM Studio's error shape."""

from __future__ import annotations

import http.client
import json
import threading

import httpx
import pytest

from app.library.model_defaults import ModelDefaultsStore
from tests.server.conftest import (
    DRAFTING,
    ENDS,
    GEMMA,
    GEMMA_DRAFT,
    MAIN,
    TWIN,
    WORDS,
    call,
    draft_counts_add_up,
    sse_named,
)

N = 16


def stream_chat(client: httpx.Client, body: dict) -> list[tuple[str | None, dict]]:
    with client.stream("POST", "/api/v1/chat", json={**body, "stream": True}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        return sse_named(resp.read().decode())


@pytest.mark.slow
def test_chat_plain_drafted_and_streamed_over_http(gemma_server):
    with httpx.Client(base_url=gemma_server.url, timeout=300) as client:
        ask = {"model": GEMMA, "input": "Name three colours.", "max_output_tokens": N, "temperature": 0}
        plain = client.post("/api/v1/chat", json={**ask, "draft_model": ""}).json()
        text = plain["output"][0]["content"]
        assert plain["output"] == [{"type": "message", "content": text}]
        assert text.strip()
        assert plain["stats"]["total_output_tokens"] == N
        assert plain["stats"]["draft_model"] is None
        assert plain["model_instance_id"] == GEMMA
        assert plain["response_id"].startswith("resp_")

        drafted = client.post("/api/v1/chat", json={**ask, "draft_model": GEMMA_DRAFT, **DRAFTING}).json()
        assert drafted["output"][0]["content"] == text
        assert drafted["stats"]["accepted_draft_tokens_count"] > 0
        assert draft_counts_add_up(drafted["stats"])

        # streamed, with the model's default draft (no draft_model in the request)
        ModelDefaultsStore().update(GEMMA, {"draft_model": GEMMA_DRAFT, **DRAFTING})
        gemma_server.runtime.defaults = ModelDefaultsStore()
        events = stream_chat(client, ask)
        kinds = [name for name, _ in events]
        assert kinds[:5] == [
            "chat.start",
            "prompt_processing.start",
            "prompt_processing.progress",
            "prompt_processing.end",
            "message.start",
        ]
        assert kinds[-2:] == ["message.end", "chat.end"]
        assert set(kinds[5:-2]) == {"message.delta"}
        assert all(name == data["type"] for name, data in events)
        deltas = [data for name, data in events if name == "message.delta"]
        assert "".join(d["content"] for d in deltas) == text
        assert len(deltas) == N
        result = events[-1][1]["result"]
        assert result["output"][0]["content"] == text
        stats = result["stats"]
        assert stats["draft_model"] == "gemma-3-270m-q4_k_m.gguf"
        assert draft_counts_add_up(stats)
        assert sum(1 for d in deltas if d.get("draft")) == stats["accepted_draft_tokens_count"] > 0

        # a stateful follow-up reads the whole chat again
        follow = client.post(
            "/api/v1/chat",
            json={
                **ask,
                "input": "And one more?",
                "max_output_tokens": 2,
                "previous_response_id": plain["response_id"],
            },
        ).json()
        assert follow["stats"]["input_tokens"] > plain["stats"]["input_tokens"] + N


def test_a_stream_that_ends_by_itself_and_a_chat_that_keeps_its_system_prompt(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        events = stream_chat(client, {"model": ENDS, "input": "x", "temperature": 0, "max_output_tokens": 40})
        result = events[-1][1]["result"]
        assert result["stats"]["stop_reason"] == "eos"
        assert result["output"][0]["content"].endswith("e")
        greedy = {"model": MAIN, "temperature": 0, "max_output_tokens": 4}
        first = client.post(
            "/api/v1/chat", json={**greedy, "input": "the cat", "system_prompt": "be brief"}
        ).json()
        follow = client.post(
            "/api/v1/chat", json={**greedy, "input": "the", "previous_response_id": first["response_id"]}
        ).json()
        whole = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "the cat"},
            {"role": "assistant", "content": first["output"][0]["content"]},
            {"role": "user", "content": "the"},
        ]
        resent = client.post(
            "/v1/chat/completions", json={**greedy, "messages": whole, "max_tokens": 4}
        ).json()
        assert follow["stats"]["input_tokens"] == resent["usage"]["prompt_tokens"]
        assert follow["output"][0]["content"] == resent["choices"][0]["message"]["content"]
        unstored = client.post("/api/v1/chat", json={**greedy, "input": "x", "store": False}).json()
        assert "response_id" not in unstored


def test_models_are_listed_loaded_and_unloaded(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        listed = {m["key"]: m for m in client.get("/api/v1/models").json()["models"]}
        main = listed[MAIN]
        assert main["type"] == "llm"
        assert main["format"] == "gguf"
        assert main["loaded_instances"] == []
        assert main["quantization"]["name"] == "ALL_F32"
        assert main["publisher"] == "test"
        loaded = client.post("/api/v1/models/load", json={"model": MAIN, "echo_load_config": True}).json()
        assert loaded["instance_id"] == MAIN
        assert loaded["status"] == "loaded"
        assert loaded["type"] == "llm"
        n_ctx = loaded["load_config"]["context_length"]
        listed = {m["key"]: m for m in client.get("/api/v1/models").json()["models"]}
        assert listed[MAIN]["loaded_instances"] == [{"id": MAIN, "config": {"context_length": n_ctx}}]
        assert server.server.jit.tracked == {}  # loaded on request: no idle TTL
        smaller = client.post("/api/v1/models/load", json={"model": TWIN, "context_length": 256}).json()
        assert "load_config" not in smaller, smaller
        assert smaller["instance_id"] == TWIN, smaller
        assert {i.key: i.n_ctx for i in server.runtime.loaded()}.get(TWIN) == 256, server.runtime.loaded()
        assert client.post("/api/v1/models/unload", json={"instance_id": MAIN}).json() == {
            "instance_id": MAIN
        }
        assert MAIN not in server.runtime.loaded_keys()
        assert TWIN in server.runtime.loaded_keys()
        gone = client.post("/api/v1/models/unload", json={"instance_id": MAIN})
        assert gone.status_code == 404
        assert gone.json()["error"]["type"] == "model_not_found"


def test_a_model_the_app_keeps_for_its_chat_is_not_unloaded(server):
    server.runtime.load(MAIN, pin=True)
    status, body, _ = call(server, "POST", "/api/v1/models/unload", {"instance_id": MAIN})
    assert status == 409
    assert "unload it there" in body["error"]["message"]
    assert MAIN in server.runtime.loaded_keys()


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "param", "needle"),
    [
        (
            "/api/v1/chat",
            {"input": [{"type": "text", "content": "what?"}, {"type": "image", "data_url": "data:,"}]},
            400,
            "invalid_request",
            "input[1]",
            "an image",
        ),
        ("/api/v1/chat", {"integrations": ["mcp/playwright"]}, 400, "invalid_request", "integrations", "MCP"),
        ("/api/v1/chat", {"reasoning": "high"}, 400, "invalid_request", "reasoning", "reason"),
        ("/api/v1/chat", {"context_length": 8000}, 400, "invalid_request", "context_length", "models/load"),
        (
            "/api/v1/chat",
            {"previous_response_id": "resp_gone"},
            404,
            "invalid_request",
            "previous_response_id",
            "resp_gone",
        ),
        ("/api/v1/chat", {"model": "nope"}, 404, "model_not_found", "model", "nope"),
        ("/api/v1/chat", {"input": "the cat " * 400}, 400, "invalid_request", None, "context"),
        ("/api/v1/chat", {"temperature": -1}, 400, "invalid_request", "temperature", ">= 0"),
        (
            "/api/v1/models/load",
            {"model": MAIN, "flash_attention": True},
            400,
            "invalid_request",
            "flash_attention",
            "flash",
        ),
        ("/api/v1/models/download", {"model": "x"}, 501, "not_implemented", None, "does not download"),
    ],
)
def test_what_this_server_cannot_do_is_refused_in_lm_studios_shape(
    server, path, body, status, kind, param, needle
):
    full = (
        {"model": MAIN, "input": "the cat", "max_output_tokens": 2, **body}
        if path == "/api/v1/chat"
        else body
    )
    got, answer, _ = call(server, "POST", path, full)
    assert got == status, answer
    error = answer["error"]
    assert set(error) == {"type", "message", "code", "param"}
    assert error["type"] == kind, error
    assert error["param"] == param, error
    assert needle in error["message"], error


def test_a_stream_cut_short_by_the_server_stopping_says_so_and_still_ends(make_server):
    srv = make_server()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    body = {"model": WORDS, "input": "the", "max_output_tokens": 100_000, "stream": True}
    conn.request("POST", "/api/v1/chat", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline() == b"event: chat.start\n"
    while resp.readline() != b"event: message.delta\n":
        pass  # stop it once it is generating
    stopper = threading.Thread(target=srv.server.stop)
    stopper.start()
    rest = resp.read().decode()
    stopper.join(20)
    conn.close()
    events = sse_named(rest)
    assert [name for name, _ in events[-3:]] == ["error", "message.end", "chat.end"]
    assert events[-3][1]["error"]["code"] == "server_stopping"
    result = events[-1][1]["result"]
    assert "response_id" not in result  # a chat cut short is not kept
    assert result["stats"]["stop_reason"] == "cancelled"
    deltas = [data["content"] for name, data in events if name == "message.delta"]
    assert result["output"][0]["content"].endswith("".join(deltas))  # the first delta was read above
    assert result["stats"]["total_output_tokens"] == len(deltas) + 1

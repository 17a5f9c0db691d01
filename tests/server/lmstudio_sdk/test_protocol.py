"""The SDK's protocol on a real server (tiny models): the greeting, who may open a websocket,
the auth packet and the API key, keep-alives, calls the server does not serve, and what it
refuses by name."""

from __future__ import annotations

import json

import pytest

from tests.server.conftest import MAIN, call, raw_exchange
from tests.server.lmstudio_sdk.conftest import query, raw_socket, rpc


def test_the_greeting_says_lm_studio_and_other_methods_are_refused(server):
    status, body, _ = call(server, "GET", "/lmstudio-greeting")
    assert status == 200
    assert body["lmstudio"] is True
    status, body, headers = call(server, "POST", "/lmstudio-greeting", {})
    assert status == 405
    assert headers["allow"] == "GET"
    assert body["error"]["code"] == "method_not_allowed"
    status, body, _ = call(server, "GET", "/lmstudio-greeting", headers={"Host": "evil.example"})
    assert status == 403
    assert body["error"]["code"] == "forbidden_host"


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/llm", {"Origin": "https://evil.example"}, 403, "forbidden_origin"),
        ("/llm", {"Host": "evil.example"}, 403, "forbidden_host"),
        ("/nowhere", {}, 404, "not_found"),
    ],
)
def test_websockets_pass_the_guard(server, path, headers, status, code):
    head = {"Host": f"127.0.0.1:{server.port}", **headers}
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    got, _, body, _ = raw_exchange(
        server,
        f"GET {path} HTTP/1.1\r\n{lines}Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
    )
    assert got == status
    assert json.loads(body)["error"]["code"] == code
    assert [r.status for r in server.requests()] == [status]  # logged like any refusal


def test_a_page_on_this_computer_may_open_one(server):
    with raw_socket(server, headers={"Origin": "http://localhost:3000"}) as ws:
        assert rpc(ws, "listLoaded") == {"type": "rpcResult", "callId": 1, "result": []}


def test_the_first_message_must_be_the_auth_packet(server):
    with raw_socket(server, passkey=None) as ws:  # as the Python SDK (on httpx): a serialized error
        ws.send_json({"type": "rpcCall", "endpoint": "listLoaded", "callId": 1})
        reply = ws.receive_json(timeout=10)
        assert reply["success"] is False
        assert "authVersion: 1" in reply["error"]["title"]
    with raw_socket(server, headers={"User-Agent": "node"}, passkey=None) as ws:  # as LM Studio: text
        ws.send_json({"authVersion": 2, "clientIdentifier": "x", "clientPasskey": "y"})
        reply = ws.receive_json(timeout=10)
        assert reply["success"] is False
        assert "authVersion: 1" in reply["error"]


def test_keep_alive_and_unknown_messages(server):
    with raw_socket(server) as ws:
        ws.send_json({"type": "keepAlive"})
        assert ws.receive_json(timeout=10) == {"type": "keepAliveAck"}
        ws.send_text("{not json")
        warning = ws.receive_json(timeout=10)
        assert warning["type"] == "communicationWarning"
        assert "not a JSON message" in warning["warning"]
        ws.send_json({"type": "teleport"})
        assert "teleport" in ws.receive_json(timeout=10)["warning"]
        ws.send_json({"type": "signalSubscribe", "endpoint": "loadedModels", "subscribeId": 3})
        reply = ws.receive_json(timeout=10)
        assert reply["type"] == "signalError"
        assert reply["subscribeId"] == 3
        assert rpc(ws, "listLoaded")["result"] == []  # the connection still serves


def test_calls_the_server_does_not_serve_are_errors_naming_them(server):
    with raw_socket(server) as ws:
        reply = rpc(ws, "applyPromptTemplate", {"specifier": query(MAIN)})
        assert reply["type"] == "rpcError"
        assert "'applyPromptTemplate' of /llm is not supported" in reply["error"]["title"]
        ws.send_json(
            {"type": "channelCreate", "endpoint": "loadModel", "channelId": 1, "creationParameter": {}}
        )
        reply = ws.receive_json(timeout=10)
        assert reply["type"] == "channelError"
        assert "'loadModel'" in reply["error"]["title"]
    with raw_socket(server, "files") as ws:
        assert "/files namespace is not served" in rpc(ws, "uploadFileBase64", {})["error"]["title"]
    with raw_socket(server, "embedding") as ws:
        assert rpc(ws, "listLoaded")["result"] == []  # lms.Client.list_loaded_models() asks both


def test_with_an_api_key_the_sdk_gives_it_in_its_auth_packet(make_server):
    import lmstudio as lms

    key = "sk-lm-abcdefgh:01234567890123456789"  # an LM Studio API token is a key too
    srv = make_server(api_key=key)
    status, body, _ = call(srv, "GET", "/lmstudio-greeting")  # the probe needs no key
    assert status == 200
    assert body["lmstudio"] is True
    with (
        lms.Client(f"127.0.0.1:{srv.port}") as client,
        pytest.raises(lms.LMStudioServerError, match="missing or wrong API key"),
    ):
        client.llm.list_loaded()

    class KeyedClient(lms.Client):  # the README's way: lmstudio 1.5 has no option for it
        def _create_auth_message(self) -> dict[str, object]:
            return self._format_auth_message(None, key)

    with KeyedClient(f"127.0.0.1:{srv.port}") as client:  # the key as the passkey
        assert client.llm.list_loaded() == []
    with raw_socket(srv, passkey=None) as ws:  # the token split as @lmstudio/sdk's apiToken does
        ws.send_json({"authVersion": 1, "clientIdentifier": "abcdefgh", "clientPasskey": key[15:]})
        assert ws.receive_json(timeout=10) == {"success": True}
    bearer = {"Authorization": f"Bearer {key}"}
    with raw_socket(srv, headers=bearer, passkey="anything") as ws:  # on the websocket's request
        assert rpc(ws, "listLoaded")["result"] == []
    with raw_socket(srv, passkey=None) as ws:
        ws.send_json({"authVersion": 1, "clientIdentifier": "abcdefgh", "clientPasskey": "wrong"})
        assert ws.receive_json(timeout=10)["success"] is False


def test_unsupported_settings_and_history_are_refused_by_name(lms_client):
    import lmstudio as lms

    model = lms_client.llm.model(MAIN)
    refused = {
        "structured output": {"structured": {"type": "json", "jsonSchema": {"type": "object"}}},
        "custom prompt templates": {
            "promptTemplate": {"type": "manual", "stopStrings": [], "manualPromptTemplate": None}
        },
        "'stopAtLimit'": {"contextOverflowPolicy": "rollingWindow"},
        "temperature must be <= 5": {"temperature": 9.0},
    }
    for needle, config in refused.items():
        with pytest.raises(lms.LMStudioServerError, match=needle):
            model.respond("the cat", config=config)
    with pytest.raises(lms.LMStudioModelNotFoundError):
        lms_client.llm.model("test/tiny/nope.gguf")
    with pytest.raises(lms.LMStudioServerError, match=r"no draft model named 'nope\.gguf'"):
        model.respond("the cat", config={"draftModel": "nope.gguf", "maxTokens": 2})
    image = {"type": "file", "name": "a.png", "identifier": "x", "sizeBytes": 1, "fileType": "image"}
    history = {"messages": [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}]}
    with pytest.raises(lms.LMStudioServerError, match=r"content\[1\] is a file"):
        model.respond(history)


def test_a_setting_the_server_does_not_know_is_refused_by_name(server):
    history = {"messages": [{"role": "user", "content": [{"type": "text", "text": "the cat"}]}]}
    stack = {
        "layers": [
            {"layerName": "apiOverride", "config": {"fields": [{"key": "llm.prediction.xtc", "value": 1}]}}
        ]
    }
    param = {"modelSpecifier": query(MAIN), "history": history, "predictionConfigStack": stack}
    with raw_socket(server) as ws:
        ws.send_json(
            {"type": "channelCreate", "endpoint": "predict", "channelId": 7, "creationParameter": param}
        )
        reply = ws.receive_json(timeout=30)
        assert reply["type"] == "channelError"
        assert reply["channelId"] == 7
        assert reply["error"]["title"] == "the setting llm.prediction.xtc is not supported by this server"
    assert [(r.path, r.status, r.error) for r in server.requests()] == [
        ("/llm/predict", 400, "the setting llm.prediction.xtc is not supported by this server")
    ]


def test_a_socket_that_never_authenticates_is_closed(make_server):
    from httpx_ws import WebSocketDisconnect

    srv = make_server(head_timeout=0.5)  # the same deadline as an HTTP request's head
    with raw_socket(srv, passkey=None) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json(timeout=30)
    assert closed.value.code == 1008


def test_model_info_of_an_unknown_model_is_nothing_when_asked_not_to_throw(server):
    with raw_socket(server) as ws:
        asked = {"specifier": query("test/tiny/nope.gguf"), "throwIfNotFound": False}
        assert rpc(ws, "getModelInfo", asked) == {"type": "rpcResult", "callId": 1}
        reply = rpc(ws, "getModelInfo", {**asked, "throwIfNotFound": True}, call_id=2)
        assert reply["error"]["displayData"]["code"] == "generic.noModelMatchingQuery"


def test_bounded_fuzz_of_the_protocol(server, caplog):
    """Messages of every type with fields of the wrong kinds: each is answered or warned about,
    the connection keeps serving, and nothing escapes as an error in the server."""
    import random

    rng = random.Random(7)
    kinds = ["rpcCall", "channelCreate", "channelSend", "signalSubscribe", "keepAlive", "channelAck", 5, None]
    endpoints = [
        "predict",
        "getOrLoad",
        "tokenize",
        "countTokens",
        "getModelInfo",
        "unloadModel",
        "listLoaded",
    ]
    values = [None, 0, -1, 2**70, 1.5, "", "x" * 300, [], [1, "a"], {}, {"type": "cancel"}, True]
    with raw_socket(server) as ws:
        for i in range(200):
            message = {"type": rng.choice(kinds)}
            for field in ("endpoint", "callId", "channelId", "parameter", "creationParameter", "message"):
                if rng.random() < 0.7:
                    message[field] = rng.choice(endpoints if field == "endpoint" else values)
            ws.send_json(message)
            if i % 20 == 19:
                ws.send_json({"type": "keepAlive"})
                while ws.receive_json(timeout=60) != {"type": "keepAliveAck"}:
                    pass
        ws.send_json({"type": "rpcCall", "endpoint": "listLoaded", "callId": -7})
        while (reply := ws.receive_json(timeout=60)).get("callId") != -7:
            pass
        assert reply["type"] == "rpcResult"
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]

"""The command line with models on another machine (real HTTP servers on 127.0.0.1):
`models --add-server URL --api-key-env VAR`, `models --json` listing `<server>/<model>`,
`generate --model <server>/<model>`, `doctor` saying which servers answer, and the clear
refusals (an unset variable, no keyring to keep the key, an unknown server)."""

from __future__ import annotations

import json

import keyring
import pytest
from keyring.backends import fail

from app.library.server_keys import SERVICE
from app.library.servers import ServerRegistry
from tests.openai_stub_server import StubReplies, finish_chunk, stub_server, text_chunk

CHUNKS = [
    text_chunk("Hel"),
    text_chunk("lo"),
    finish_chunk("stop", usage={"prompt_tokens": 7, "completion_tokens": 2}),
]


def test_a_server_added_from_the_command_line_lists_its_models_and_generates(run_cli, monkeypatch):
    monkeypatch.setenv("BOX_KEY", "s3cret")
    with stub_server(StubReplies(chunks=CHUNKS, api_key="s3cret", owned_by="vllm")) as url:
        code, out, err = run_cli("models", "--add-server", url, "--name", "box", "--api-key-env", "BOX_KEY")
        assert code == 0, err
        assert out.strip() == f"added box (vLLM, {url}): 1 model"
        assert keyring.get_password(SERVICE, "box") == "s3cret"
        assert "s3cret" not in ServerRegistry().file.path.read_text()  # the key is not in our files
        code, out, _ = run_cli("models", "--json")
        [model] = [m for m in json.loads(out)["models"] if m["key"] == "box/stub-model"]
        assert (model["engine"], model["server"], model["server_kind"], model["online"]) == (
            "remote",
            "box",
            "vllm",
            True,
        )
        code, out, err = run_cli("generate", "--model", "box/stub-model", "--prompt", "Hi", "--json")
        assert code == 0, err
        reply = json.loads(out)
        assert reply["text"] == "Hello"
        assert reply["stats"]["speculation"] == "none"  # the server said nothing of a draft
        code, out, _ = run_cli("doctor", "--json")
        [server] = json.loads(out)["servers"]
        answer = (server["name"], server["reachable"], server["kind"], server["models"])
        assert answer == ("box", True, "vLLM", 1)
        assert server["api_key"] == "in the system keyring"
    code, out, _ = run_cli("doctor")  # the server is gone now
    assert f"server box ({url}): not listed: unreachable" in out
    code, out, _ = run_cli("models", "--remove-server", "box")
    assert (code, out.strip()) == (0, "removed box")
    assert keyring.get_password(SERVICE, "box") is None


def test_an_unset_key_variable_and_an_unknown_server_are_refused(run_cli, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VAR", raising=False)
    code, _, err = run_cli("models", "--add-server", "http://127.0.0.1:9", "--api-key-env", "NO_SUCH_VAR")
    assert code == 1
    assert "the environment variable NO_SUCH_VAR is not set" in err
    code, _, err = run_cli("models", "--remove-server", "nobody")
    assert code == 1
    assert "no server named 'nobody'" in err
    code, _, err = run_cli("models", "--add-server", "ftp://box")
    assert code == 1
    assert "is not a server address" in err
    assert ServerRegistry().servers() == []


@pytest.fixture
def no_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_without_a_keyring_a_key_is_refused_and_nothing_is_added(run_cli, monkeypatch, no_keyring):
    monkeypatch.setenv("BOX_KEY", "s3cret")
    code, _, err = run_cli("models", "--add-server", "http://127.0.0.1:9", "--api-key-env", "BOX_KEY")
    assert code == 1
    assert "no system keyring is available to keep the API key" in err
    assert ServerRegistry().servers() == []
    code, out, _ = run_cli("doctor")
    assert "keyring (servers' API keys): no system keyring is available" in out

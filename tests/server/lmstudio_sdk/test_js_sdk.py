"""The real `@lmstudio/sdk` (npm, the version the README names) against a real server: it
checks every message it receives against its own schemas, so this is where a shape the
JavaScript SDK would refuse shows. Skipped where node and npm are missing or the package
cannot be installed (no registry); installed once into the shared test-model cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.model_factory import model_cache_dir
from tests.server.conftest import MAIN, TWIN, call, chat_body

JS_SDK_VERSION = "1.5.0"
CLIENT = Path(__file__).with_name("lmstudio_js_client.cjs")


@pytest.fixture(scope="session")
def js_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder @lmstudio/sdk is installed in."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for @lmstudio/sdk")
    folder = model_cache_dir() / f"npm-lmstudio-sdk-{JS_SDK_VERSION}"
    if not (folder / "node_modules" / "@lmstudio" / "sdk" / "package.json").exists():
        work = folder.with_name(f"{folder.name}.tmp{os.getpid()}")  # then renamed: runs may overlap
        work.mkdir(parents=True, exist_ok=True)
        (work / "package.json").write_text('{"name": "sdk-under-test", "private": true}\n')
        cache = tmp_path_factory.mktemp("npm-cache")
        env = {**os.environ, "npm_config_cache": str(cache), "npm_config_update_notifier": "false"}
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"@lmstudio/sdk@{JS_SDK_VERSION}"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            pytest.skip(f"@lmstudio/sdk@{JS_SDK_VERSION} could not be installed: {done.stderr[-300:]}")
        try:
            work.rename(folder)
        except OSError:  # another run installed it first
            shutil.rmtree(work, ignore_errors=True)
    return folder


def run_client(sdk: Path, port: int, api_key: str = "") -> dict:
    done = subprocess.run(
        ["node", str(CLIENT), str(sdk), f"ws://127.0.0.1:{port}", MAIN, TWIN, api_key],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr
    return json.loads(lines[-1])


def test_the_javascript_sdk_predicts_with_a_draft_and_calls_the_models(server, js_sdk, caplog):
    out = run_client(js_sdk, server.port)
    assert "error" not in out, out
    # a message the SDK's schemas refuse comes back as a communication warning
    assert not [r for r in caplog.records if "SDK client warning" in r.getMessage()]
    s = out["stats"]
    assert out["content"] == "".join(f["content"] for f in out["fragments"]) == out["plain"]
    http = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]
    assert out["content"] == http["choices"][0]["message"]["content"]
    assert s["usedDraftModelKey"] == TWIN
    assert s["acceptedDraftTokensCount"] > 0
    assert s["totalDraftTokensCount"] == (
        s["acceptedDraftTokensCount"] + s["rejectedDraftTokensCount"] + s["ignoredDraftTokensCount"]
    )
    # a fragment carries a token without text together with the next one, so a drafted
    # fragment holds at least one accepted token and at most all of its tokens
    marked = [f["tokensCount"] for f in out["fragments"] if f["containsDrafted"]]
    assert len(marked) <= s["acceptedDraftTokensCount"] <= sum(marked)
    assert out["modelKey"] == MAIN
    body = {"model": MAIN, "prompt": "the dog", "max_tokens": 16, "temperature": 0, "repeat_penalty": 1.0}
    assert out["completed"] == call(server, "POST", "/v1/completions", body)[1]["choices"][0]["text"]
    assert out["cancelled"]["stopReason"] == "userStopped"
    assert out["tokenCount"] == len(out["tokens"]) > 0
    assert out["info"]["identifier"] == MAIN
    assert MAIN in out["loaded"]
    assert MAIN in out["downloaded"]
    assert MAIN not in out["loadedAfter"]
    assert "nothing/like/this.gguf" in out["notFound"]


def test_the_javascript_sdk_gives_the_api_key_as_its_passkey(make_server, js_sdk):
    srv = make_server(api_key="sekret")
    assert "missing or wrong API key" in run_client(js_sdk, srv.port)["error"]
    assert "error" not in run_client(js_sdk, srv.port, api_key="sekret")

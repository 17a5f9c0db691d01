"""One bad model file never breaks the library: each is a problem row with its reason, and
`models`, `doctor`, `generate --model <another file>` and GET /v1/models keep working."""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

import pytest

from app.library.library import ModelLibrary
from app.library.paths import models_dir
from app.server.config import ServerConfig
from app.server.serving import LocalServer
from tests.reliability.helpers import assert_clean_failure, cli, every_bad_model


@pytest.fixture
def bad_library(tiny_main: Path) -> dict[str, str]:
    good = models_dir() / "good" / "tiny"
    good.mkdir(parents=True)
    shutil.copy(tiny_main, good / "main.gguf")
    return every_bad_model(models_dir() / "bad")


def test_every_bad_file_is_a_problem_row_with_its_reason(bad_library):
    library = ModelLibrary()
    assert list(library.entries) == ["good/tiny/main.gguf"]
    rows = {Path(p.path).name: p.reason for p in library.problems}
    for name, words in bad_library.items():
        assert words in rows.get(name, ""), (name, rows.get(name))
    again = ModelLibrary()  # the second scan reads the header cache: the same rows
    assert {Path(p.path).name: p.reason for p in again.problems} == rows


def test_the_cli_keeps_working(bad_library, tmp_path, tiny_twin):
    for args in (["models"], ["models", "--json"], ["doctor"], ["doctor", "--json"]):
        proc = cli(*args, timeout=60)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
    listing = json.loads(cli("models", "--json").stdout)
    assert [m["key"] for m in listing["models"]] == ["good/tiny/main.gguf"]
    assert len(listing["problems"]) >= len(bad_library)
    outside = shutil.copy(tiny_twin, tmp_path / "another.gguf")
    proc = cli("generate", "--model", str(outside), "--prompt", "the cat", "--raw", "--max-tokens", "3")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("float-alignment.gguf", "general.alignment"),
        ("mlx-tokenizer-list", "tokenizer.json"),
        ("mlx-bits-x", "quantization bits"),
        ("self-link.gguf", "broken symbolic link"),
        ("dangling.gguf", "broken symbolic link"),
        ("pipe.gguf", "not a regular file"),  # must not hang on the pipe
        ("text.gguf", "not a GGUF file"),
        ("name-bit-27.gguf", "corrupt GGUF header"),
        ("loop/again/again", "config.json is missing"),
    ],
)
def test_generate_with_a_bad_file_is_one_clear_line(bad_library, name, needle):
    proc = cli("generate", "--model", str(models_dir() / "bad" / name), "--prompt", "hi", timeout=60)
    assert_clean_failure(proc, needle)
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_an_mlx_config_claiming_1000_layers_is_one_line_not_thousands(tmp_path):
    from tests.mlx_factory import write_mlx_model

    folder = write_mlx_model(tmp_path / "deep")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1000}))
    proc = cli("generate", "--model", str(folder), "--prompt", "hi", timeout=120)
    assert_clean_failure(proc, "1000 layers but the weights hold 2")
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_the_server_lists_the_good_models(bad_library):
    server = LocalServer(ServerConfig(port=0))
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
    finally:
        server.stop()  # closes the runtime it made
    assert resp.status == 200
    assert [m["id"] for m in body["data"]] == ["good/tiny/main.gguf"]

"""Every JSON file the app writes is read defensively: another shape, type or encoding is set
aside (renamed, kept) or dropped, with a warning the user sees in the window and in `doctor`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.library.atomic import file_warnings
from app.library.discovery import HEADER_CACHE_SCHEMA
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import cache_dir, config_dir, models_dir
from tests.reliability.helpers import cli

KEY = "test/tiny/main.gguf"


@pytest.fixture
def library(tiny_main: Path, tiny_twin: Path) -> None:
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True)
    shutil.copy(tiny_main, folder / "main.gguf")
    shutil.copy(tiny_twin, folder / "twin.gguf")


def doctor_warnings() -> list[str]:
    proc = cli("doctor", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return list(json.loads(proc.stdout)["warnings"])


def write(path: Path, content: bytes | str | object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))


def test_defaults_that_are_not_utf8_are_set_aside_and_every_command_works(library):
    path = config_dir() / "model-defaults.json"
    write(path, b'{"schema": 1, "models": {"\xff": {}}}')
    proc = cli("generate", "--model", KEY, "--prompt", "the", "--raw", "--max-tokens", "2", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "per-model defaults could not be read (not UTF-8 text)" in proc.stderr
    (kept,) = path.parent.glob("model-defaults.json.corrupt-*")
    assert kept.read_bytes() == b'{"schema": 1, "models": {"\xff": {}}}'
    assert not path.exists()
    store = ModelDefaultsStore()  # a fresh start: nothing to warn about any more
    assert store.get(KEY) == {}
    assert not store.file.warnings


def test_a_defaults_value_of_the_wrong_type_is_dropped_with_a_warning_and_a_copy(library):
    path = config_dir() / "model-defaults.json"
    saved = {"schema": 1, "models": {KEY: {"temperature": "hot", "top_k": 7}, "other": [1, 2]}}
    write(path, saved)
    warnings = doctor_warnings()
    assert any("temperature must be a number" in w and "other" in w for w in warnings), warnings
    (copy,) = path.parent.glob("model-defaults.json.ignored-*")
    assert json.loads(copy.read_text()) == saved
    store = ModelDefaultsStore()
    assert store.get(KEY) == {"top_k": 7}
    assert not store.file.warnings


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda e: e.pop("architecture"), id="missing-field"),
        pytest.param(lambda e: e.update(added_in_a_later_version=1), id="extra-field"),
        pytest.param(lambda e: e.update(parameter_count="many"), id="wrong-type"),
        pytest.param(lambda e: e["vocab_json"].update(n_vocab=None), id="wrong-vocab"),
    ],
)
def test_a_header_cache_entry_of_another_shape_is_read_again(library, spoil):
    first = ModelLibrary()
    assert set(first.entries) == {KEY, "test/tiny/twin.gguf"}
    path = cache_dir() / "model-headers.json"
    data = json.loads(path.read_text())
    for hit in data["files"].values():
        spoil(hit["entry"])
    write(path, data)
    proc = cli("models", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert {m["key"] for m in json.loads(proc.stdout)["models"]} == {KEY, "test/tiny/twin.gguf"}
    assert "dropped 2 entries" in proc.stderr
    again = ModelLibrary()
    assert set(again.entries) == {KEY, "test/tiny/twin.gguf"}
    assert not file_warnings()


@pytest.mark.parametrize("verdict", [{"ok": True}, "yes", 1, [True], None])
def test_a_compatibility_verdict_of_another_shape_is_checked_again(library, verdict):
    assert cli("models", "--drafts", KEY, timeout=60).returncode == 0
    path = cache_dir() / "draft-compatibility.json"
    data = json.loads(path.read_text())
    assert data["pairs"]
    write(path, {**data, "pairs": dict.fromkeys(data["pairs"], verdict)})
    proc = cli("models", "--drafts", KEY, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "test/tiny/twin.gguf" in proc.stdout.split("Not compatible")[0]


@pytest.mark.parametrize(
    "content", [b"\xff\xfe", b"[]", b'{"schema": %d, "files": []}' % HEADER_CACHE_SCHEMA, b"{"]
)
def test_a_cache_of_another_shape_or_encoding_is_rebuilt_with_a_warning(library, content):
    write(cache_dir() / "model-headers.json", content)
    library_ = ModelLibrary()
    assert set(library_.entries) == {KEY, "test/tiny/twin.gguf"}
    assert any("model-headers.json" in w for w in file_warnings())


@pytest.mark.parametrize("content", [b"\xff", b'{"extra_folders": "a string"}', b"[1]"])
def test_the_added_folders_list_of_another_shape_is_set_aside(library, content):
    path = config_dir() / "library.json"
    write(path, content)
    assert ModelLibrary().extra_folders() == []
    (kept,) = path.parent.glob("library.json.unreadable-*")
    assert kept.read_bytes() == content
    assert any("added model folders" in w for w in file_warnings())


def test_a_bundled_model_stamp_of_another_shape_means_not_verified(tmp_path):
    from app.library import bundled

    target = tmp_path / "model.gguf"
    target.write_bytes(b"x")
    write(target.with_name("model.gguf.verified.json"), [1, 2])
    assert bundled._is_verified(target, "abc") is False

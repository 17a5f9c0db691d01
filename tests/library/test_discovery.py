"""Finding models where users keep them; bad files become problems, never failures."""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.library.library import ModelLibrary
from app.library.paths import models_dir
from tests.library.mlx_fixtures import write_mlx_folder
from tests.model_factory import write_tiny_gguf


def tiny(path: Path, **kw: object) -> Path:
    return write_tiny_gguf(path, n_embd=16, n_layer=1, **kw)  # type: ignore[arg-type]


def write_clip_projector(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="clip")
    w.add_tensor("v.patch_embd.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_vocab_only(path: Path) -> Path:
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_tokenizer_model("llama")
    w.add_token_list(["<unk>", "<s>", "</s>", "a"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"])


def test_models_are_found_in_every_known_folder(home, tmp_path):
    tiny(models_dir() / "google" / "gemma" / "own.gguf")
    tiny(home / ".lmstudio" / "models" / "lmstudio-community" / "qwen" / "qwen-q4.gguf")
    tiny(home / ".cache" / "lm-studio" / "models" / "old" / "repo" / "legacy.gguf")
    hub = Path(os.environ["HF_HOME"]) / "hub" / "models--org--repo"
    tiny(hub / "snapshots" / "aaa" / "old.gguf")
    tiny(hub / "snapshots" / "bbb" / "current.gguf")
    (hub / "refs").mkdir(parents=True)
    (hub / "refs" / "main").write_text("bbb")
    write_mlx_folder(
        hub.parent / "models--mlx-community--tiny" / "snapshots" / "ccc", ["<s>", "</s>", "a", "b"]
    )
    extra = tmp_path / "extra"
    tiny(extra / "mine.gguf")
    lib = ModelLibrary()
    lib.add_folder(extra)
    keys = set(lib.entries)
    assert keys == {
        "google/gemma/own.gguf",
        "lmstudio-community/qwen/qwen-q4.gguf",
        "old/repo/legacy.gguf",
        "org/repo/current.gguf",
        "mlx-community/tiny",
        "mine.gguf",
    }, keys
    mlx = lib.entries["mlx-community/tiny"]
    assert mlx.engine == "MLX"
    assert mlx.architecture == "llama"
    assert mlx.context_length == 256
    gg = lib.entries["google/gemma/own.gguf"]
    assert gg.engine == "llama.cpp"
    assert gg.quantization == "ALL_F32"
    assert gg.parameter_count > 0
    assert gg.vocab_fingerprint
    assert gg.size_bytes == Path(gg.path).stat().st_size
    assert lib.problems == []


def test_split_models_projectors_and_vocab_only_files(tmp_path):
    root = models_dir() / "pub" / "big"
    tiny(root / "big-00001-of-00002.gguf")
    tiny(root / "big-00002-of-00002.gguf", seed=1)
    tiny(root / "half-00001-of-00003.gguf")
    tiny(root / "orphan-00002-of-00002.gguf")
    tiny(root / "mmproj-big-f16.gguf")
    write_clip_projector(root / "vision.gguf")
    write_vocab_only(root / "vocab-only.gguf")
    lib = ModelLibrary()
    assert list(lib.entries) == ["pub/big/big-00001-of-00002.gguf"]
    entry = lib.entries["pub/big/big-00001-of-00002.gguf"]
    assert len(entry.parts) == 2
    assert entry.size_bytes == sum(Path(p).stat().st_size for p in entry.parts)
    reasons = {Path(p.path).name: p.reason for p in lib.problems}
    assert reasons == {
        "half-00001-of-00003.gguf": "split model is missing part 2, 3 of 3",
        "orphan-00002-of-00002.gguf": "split model orphan is missing its first part (1 of 2)",
    }


def test_bad_files_and_loops_never_stop_a_scan():
    root = models_dir() / "pub" / "repo"
    good = tiny(root / "good.gguf")
    (root / "notgguf.gguf").write_text("this is plain text, not a model file at all")
    data = good.read_bytes()
    (root / "truncated.gguf").write_bytes(data[: len(data) // 3])
    (root / "empty.gguf").write_bytes(b"")
    (root / "loop").symlink_to(root.parent, target_is_directory=True)
    broken = root / "mlx-broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "model.safetensors").write_bytes(b"\x00" * 4)
    lib = ModelLibrary()
    assert list(lib.entries) == ["pub/repo/good.gguf"]
    reasons = {Path(p.path).name: p.reason for p in lib.problems}
    assert "bad magic" in reasons["notgguf.gguf"]
    assert "truncated" in reasons["truncated.gguf"]
    assert "not a GGUF file" in reasons["empty.gguf"]
    assert "config.json is unreadable" in reasons["mlx-broken"]
    assert "loop" in reasons["loop"]


def test_rescan_reports_added_removed_and_changed():
    root = models_dir() / "p" / "r"
    a = tiny(root / "a.gguf")
    tiny(root / "b.gguf")
    lib = ModelLibrary()
    first = lib.rescan()
    assert first.added == ["p/r/a.gguf", "p/r/b.gguf"]
    tiny(root / "c.gguf")
    (root / "b.gguf").unlink()
    tiny(a, n_ctx=1024)  # rewritten in place
    os.utime(a, ns=(1, 1))
    diff = lib.rescan()
    assert (diff.added, diff.removed, diff.changed) == (["p/r/c.gguf"], ["p/r/b.gguf"], ["p/r/a.gguf"])
    assert lib.entries["p/r/a.gguf"].context_length == 1024
    assert not lib.rescan()


def test_warm_scan_reads_no_headers(monkeypatch):
    for i in range(5):
        tiny(models_dir() / "p" / f"m{i}.gguf")
    ModelLibrary().rescan()

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("header read on a warm scan")

    monkeypatch.setattr("app.library.discovery.read_gguf", refuse)
    assert len(ModelLibrary().entries) == 5


def test_import_copies_into_the_app_folder_and_refuses_broken_files(tmp_path):
    src = tiny(tmp_path / "outside.gguf")
    lib = ModelLibrary()
    entry = lib.import_model(src)
    assert entry.key == "imported/outside.gguf"
    assert Path(entry.path).read_bytes() == src.read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"nope")
    with pytest.raises(Exception, match="not a GGUF"):
        lib.import_model(bad)
    assert not (models_dir() / "imported" / "bad.gguf").exists()

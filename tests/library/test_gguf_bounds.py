"""Corrupt GGUF headers cost nothing and reach no cache (issue 29): a length field set near
the file size is refused before it is read (measured: the peak memory of a child process
scanning the file), and a header that parses into nonsense is a problem row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

from app.core.errors import ModelFileError
from app.library.discovery import HeaderCache, ModelRoot, scan
from app.library.gguf_meta import read_gguf
from tests.library.gguf_damage import MB, length_offset, name_bit_flipped, padded_copy, set_length
from tests.model_factory import write_tiny_gguf

REPO = Path(__file__).resolve().parents[2]

# Scans a folder in a fresh process and reports how much its peak memory grew while doing so.
SCAN_IN_A_CHILD = r"""
import json, resource, sys
from pathlib import Path
from app.library.discovery import HeaderCache, ModelRoot, scan

folder, warm, cache = (Path(a) for a in sys.argv[1:4])
scan([ModelRoot(warm, "warm")], HeaderCache(cache.with_name("warm.json")))  # imports, first use
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = scan([ModelRoot(folder, "test")], HeaderCache(cache))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KB on Linux
print(json.dumps({"grew": (after - before) * scale, "problems": [p.reason for p in result.problems]}))
"""


def scan_in_a_child(folder: Path, warm: Path, cache: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCAN_IN_A_CHILD, str(folder), str(warm), str(cache)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("text", "of_value", "reason"),
    [
        (b"general.name", False, "a key is"),
        (b"general.name", True, "the value of 'general.name' is"),
        (b"<unk>", False, "token 0 is"),
        (b"token_embd.weight", False, "a tensor name is"),
    ],
)
def test_a_length_near_the_file_size_is_refused_before_it_is_read(
    tmp_path, tiny_main, text, of_value, reason
):
    folder, warm = tmp_path / "bad", tmp_path / "warm"
    folder.mkdir()
    warm.mkdir()
    padded_copy(tiny_main, warm / "good.gguf", tiny_main.stat().st_size)
    size = 256 * MB  # a sparse file: the length points inside it, as a corrupt one can
    bad = padded_copy(tiny_main, folder / "bad.gguf", size)
    offset = length_offset(tiny_main.read_bytes(), text, of_value)
    set_length(bad, offset, size - offset - 64)
    report = scan_in_a_child(folder, warm, tmp_path / "headers.json")
    assert len(report["problems"]) == 1, report
    assert reason in report["problems"][0], report
    assert report["grew"] < 32 * MB, report  # the old reader copied and decoded the whole file
    assert (tmp_path / "headers.json").stat().st_size < 4096


@pytest.mark.parametrize("bit", [27, 24, 20])
def test_a_flipped_bit_in_the_names_length_is_a_problem_row_and_no_cache_holds_it(tmp_path, tiny_main, bit):
    root = tmp_path / "models"
    (root / "pub" / "repo").mkdir(parents=True)
    name_bit_flipped(tiny_main, root / "pub" / "repo" / "flipped.gguf", bit)
    result = scan([ModelRoot(root, "test")], HeaderCache(tmp_path / "headers.json"))
    assert result.entries == {}
    assert [Path(p.path).name for p in result.problems] == ["flipped.gguf"]
    assert "corrupt GGUF header" in result.problems[0].reason
    assert len(result.problems[0].reason) < 300
    assert (tmp_path / "headers.json").stat().st_size < 4096
    again = scan([ModelRoot(root, "test")], HeaderCache(tmp_path / "headers.json"))  # from the cache
    assert again.problems == result.problems


def gguf_file(path: Path, *, name: str = "m", tokens: bool = True, kind: str | None = None) -> Path:
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name(name)
    if kind:
        w.add_type(kind)
    if tokens:
        w.add_token_list(["<unk>", "<s>", "</s>", "a"])
    w.add_tensor("blk.0.attn_q.weight", np.zeros((4, 4), dtype=np.float32))
    w.add_tensor("blk.0.attn_k.weight", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_nonsense_that_parses_is_refused(tmp_path):
    assert read_gguf(gguf_file(tmp_path / "ok.gguf")).n_vocab == 4
    with pytest.raises(ModelFileError, match="a model without a vocabulary"):
        read_gguf(gguf_file(tmp_path / "no-vocab.gguf", tokens=False))
    with pytest.raises(ModelFileError, match="a LoRA adapter, not a model"):
        read_gguf(gguf_file(tmp_path / "adapter.gguf", tokens=False, kind="adapter"))
    with pytest.raises(ModelFileError, match=r"general\.name is 2,000 characters long"):
        read_gguf(gguf_file(tmp_path / "long-name.gguf", name="x" * 2000))
    twice = gguf_file(tmp_path / "twice.gguf")
    data = twice.read_bytes().replace(b"blk.0.attn_k.weight", b"blk.0.attn_q.weight")
    twice.write_bytes(data)
    with pytest.raises(ModelFileError, match=r"'blk\.0\.attn_q\.weight' is empty or appears twice"):
        read_gguf(twice)
    empty_key = gguf_file(tmp_path / "empty-key.gguf")
    data = empty_key.read_bytes()
    at = length_offset(data, b"general.name")
    empty_key.write_bytes(data[:at] + bytes(8) + data[at + 8 + len(b"general.name") :])
    with pytest.raises(ModelFileError, match="the key '' is empty"):
        read_gguf(empty_key)


def test_a_real_size_vocabulary_and_long_texts_still_read(tmp_path):
    """The bounds leave room for what real files hold: Gemma's 262,144 tokens, a chat template
    of hundreds of kilobytes, a long token."""
    tokens = ["<unk>", "<s>", "</s>", "x" * 5000, *(f"t{i}" for i in range(262_140))]
    path = write_tiny_gguf(tmp_path / "big-vocab.gguf", n_embd=16, n_layer=1, tokens=tokens)
    info = read_gguf(path)
    assert info.n_vocab == len(tokens)
    assert info.tokens()[3] == b"x" * 5000
    w = gguf.GGUFWriter(str(tmp_path / "template.gguf"), arch="llama")
    w.add_chat_template("{{ messages }}" * 40_000)
    w.add_token_list(["<unk>", "<s>", "</s>"])
    w.add_tensor("w", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert len(read_gguf(tmp_path / "template.gguf").chat_template or "") == 14 * 40_000

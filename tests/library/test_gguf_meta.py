from __future__ import annotations

import pytest

from app.core.errors import ModelFileError
from app.library.gguf_meta import read_gguf
from tests.model_factory import tiny_vocab, write_tiny_gguf


def test_reads_header_fields_without_weights(tmp_path):
    path = write_tiny_gguf(tmp_path / "m.gguf", n_embd=16, n_layer=2, n_ctx=300, name="Tiny Test")
    info = read_gguf(path)
    assert info.architecture == "llama"
    assert info.name == "Tiny Test"
    assert info.context_length == 300
    assert info.n_vocab == len(tiny_vocab())
    assert info.vocab_type == "llama"
    assert info.special_token("bos") == 1
    assert info.special_token("eos") == 2
    assert info.adds("bos")
    assert not info.adds("eos")
    assert info.quantization == "ALL_F32"
    assert info.parameter_count > 0
    assert not info.is_vocab_only
    assert not info.is_projector
    assert info.tokens()[139] == b"<0x88>"


@pytest.mark.parametrize("keep", [10, 23, 200, 2000])
def test_any_truncation_is_reported_not_crashed(tmp_path, keep):
    data = write_tiny_gguf(tmp_path / "m.gguf", n_embd=16, n_layer=1).read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:keep])
    with pytest.raises(ModelFileError, match=r"cut\.gguf"):
        read_gguf(cut)


def test_folder_and_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="folder"):
        read_gguf(tmp_path)
    with pytest.raises(ModelFileError, match="not found"):
        read_gguf(tmp_path / "missing.gguf")

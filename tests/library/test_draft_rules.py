"""Every draft compatibility verdict and its reason, from GGUF headers only (the pairing
rules in app/library/draft_rules.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.library.draft_rules import check_draft
from tests.model_factory import tiny_vocab, write_tiny_gguf


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compat")


def make(folder: Path, name: str, **kwargs: object) -> Path:
    return write_tiny_gguf(folder / f"{name}.gguf", n_embd=16, n_layer=1, **kwargs)  # type: ignore[arg-type]


def test_same_vocabulary_other_weights_is_compatible(folder):
    verdict = check_draft(make(folder, "a", seed=1), make(folder, "b", seed=2))
    assert verdict.compatible
    assert verdict.reason == ""


def test_sizes_within_128_are_compatible_when_shared_ids_agree(folder):
    assert check_draft(make(folder, "base"), make(folder, "plus100", tokens=tiny_vocab(extra=100)))


def test_sizes_more_than_128_apart_are_not(folder):
    verdict = check_draft(make(folder, "base"), make(folder, "plus129", tokens=tiny_vocab(extra=129)))
    assert not verdict
    assert verdict.reason == "vocabulary sizes differ by 129 (main 365, draft 494; at most 128 allowed)"


def test_other_token_text_names_the_first_differing_id(folder):
    other = make(folder, "renamed", tokens=tiny_vocab(rename={139: "<x>"}))
    verdict = check_draft(make(folder, "base"), other)
    assert verdict.reason == 'vocabulary differs at token 139: "<0x88>" vs "<x>"'


def test_token_text_below_id_5_is_not_compared(folder):
    assert check_draft(make(folder, "base"), make(folder, "unk", tokens=tiny_vocab(rename={0: "<unknown>"})))


def test_other_bos_id(folder):
    verdict = check_draft(make(folder, "base"), make(folder, "bos2", bos_id=2))
    assert verdict.reason == "BOS token differs: main uses id 1, draft uses id 2"


def test_other_add_bos_flag(folder):
    verdict = check_draft(make(folder, "base"), make(folder, "nobos", add_bos=False))
    assert verdict.reason == "add-BOS flag differs: main True, draft False"


def test_other_tokenizer_type(folder):
    verdict = check_draft(make(folder, "base"), make(folder, "bpe", vocab_type="gpt2"))
    assert verdict.reason == "tokenizer type differs: main uses 'llama', draft uses 'gpt2'"


def test_draft_for_another_engine_names_both(folder, tmp_path):
    mlx_folder = tmp_path / "some-mlx-model"
    mlx_folder.mkdir()
    verdict = check_draft(make(folder, "base"), mlx_folder)
    assert not verdict
    assert "MLX" in verdict.reason
    assert "llama.cpp" in verdict.reason


def test_fingerprint_equal_for_equal_vocabularies_only(folder):
    from app.library.gguf_meta import read_gguf

    a, b = read_gguf(make(folder, "fa", seed=1)), read_gguf(make(folder, "fb", seed=9))
    c = read_gguf(make(folder, "fc", tokens=tiny_vocab(rename={200: "zz"})))
    assert a.vocab_fingerprint == b.vocab_fingerprint != c.vocab_fingerprint

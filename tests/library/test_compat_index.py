from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.library.compat_index import CompatibilityIndex, recommendation
from app.library.library import ModelLibrary
from app.library.paths import models_dir
from tests.library.mlx_fixtures import write_mlx_folder
from tests.model_factory import tiny_vocab, write_tiny_gguf


def build_library() -> Path:
    root = models_dir() / "fam"
    write_tiny_gguf(root / "main.gguf", n_embd=64, n_layer=2)
    write_tiny_gguf(root / "draft-small.gguf", n_embd=16, n_layer=1)
    write_tiny_gguf(root / "draft-mid.gguf", n_embd=32, n_layer=1)
    write_tiny_gguf(root / "other-vocab.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))
    write_tiny_gguf(root / "renamed.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(rename={139: "<x>"}))
    write_mlx_folder(root / "mlx-model", ["<s>", "</s>", "a"])
    return root


def test_drafts_smallest_first_with_reasons_for_the_rest():
    build_library()
    report = CompatibilityIndex(ModelLibrary()).drafts_for("fam/main.gguf")
    # exact matches first, then the drafts with another tokenizer (through translation)
    assert [o.entry.key for o in report.compatible] == [
        "fam/draft-small.gguf",
        "fam/draft-mid.gguf",
        "fam/renamed.gguf",
        "fam/other-vocab.gguf",
    ]
    assert [o.translated for o in report.compatible] == [False, False, True, True]
    translated = {o.entry.key: o for o in report.compatible if o.translated}
    assert "vocabulary sizes differ by 300" in translated["fam/other-vocab.gguf"].reason
    # the main model's texts plus 300 of its own: about half of the draft's texts are shared
    assert 0.5 < (translated["fam/other-vocab.gguf"].share or 0) < 0.56
    renamed = translated["fam/renamed.gguf"]
    assert 'vocabulary differs at token 139: "<0x88>" vs "<x>"' in renamed.reason
    assert "drafts through translation" in renamed.reason
    assert renamed.share is not None
    assert 0.99 < renamed.share < 1.0  # "<x>" is not a main-model token text
    reasons = {e.key: r for e, r in report.incompatible}
    assert list(reasons) == ["fam/mlx-model"]  # another engine: no translation
    assert "MLX" in reasons["fam/mlx-model"]
    assert "llama.cpp" in reasons["fam/mlx-model"]
    assert "small" in report.advice


def test_verdicts_come_from_disk_next_time_and_a_changed_file_is_checked_again(monkeypatch):
    root = build_library()
    CompatibilityIndex(ModelLibrary()).drafts_for("fam/main.gguf")

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("verdict recomputed")

    with monkeypatch.context() as patch:
        patch.setattr("app.library.compat_index.check_vocab_pair", refuse)
        warm = CompatibilityIndex(ModelLibrary()).drafts_for("fam/main.gguf")
    assert [o.translated for o in warm.compatible] == [False, False, True, True]
    assert warm.compatible[2].share is not None
    assert "translation" in warm.compatible[2].reason
    # The small draft is replaced by a file with another vocabulary: no stale "compatible".
    write_tiny_gguf(root / "draft-small.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(rename={200: "zz"}))
    os.utime(root / "draft-small.gguf", ns=(5, 5))
    after = CompatibilityIndex(ModelLibrary()).drafts_for("fam/main.gguf")
    assert [o.entry.key for o in after.compatible if not o.translated] == ["fam/draft-mid.gguf"]
    assert "fam/draft-small.gguf" in [o.entry.key for o in after.compatible if o.translated]


@pytest.mark.parametrize(
    ("main", "draft", "recommended"),
    [
        (7e9, 1e9, True),
        (14e9, 3e9, True),
        (32e9, 7e9, True),
        (8e9, 3e9, False),
        (3e9, 0.5e9, False),
        (1e9, 2e9, False),
    ],
)
def test_recommendation_follows_the_size_guide(main, draft, recommended):
    assert recommendation(int(main), int(draft))[0] is recommended

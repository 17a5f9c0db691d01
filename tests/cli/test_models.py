"""`specula models`: the library, compatible drafts and the errors of naming a model."""

from __future__ import annotations

import json

from tests.model_factory import tiny_vocab, write_tiny_gguf
from tests.reliability.helpers import cli


def test_models_lists_the_library_and_compatible_drafts(tiny_main, tiny_noisy):
    import os

    from app.library.paths import models_dir

    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True)
    os.link(tiny_main, folder / "main.gguf")
    os.link(tiny_noisy, folder / "noisy.gguf")
    write_tiny_gguf(folder / "other.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))
    listing = json.loads(cli("models", "--json").stdout)
    keys = {"test/tiny/main.gguf", "test/tiny/noisy.gguf", "test/tiny/other.gguf"}
    assert {m["key"] for m in listing["models"]} == keys
    drafts = json.loads(cli("models", "--drafts", "test/tiny/main.gguf", "--json").stdout)
    # usable drafts: the exact match first, then the one with another tokenizer
    assert [d["key"] for d in drafts["compatible"]] == ["test/tiny/noisy.gguf", "test/tiny/other.gguf"]
    assert [d["verdict"] for d in drafts["compatible"]] == ["compatible", "translated"]
    other = drafts["compatible"][1]
    assert 0 < other["shared_token_share"] < 1
    assert "drafts through translation" in other["reason"]
    text = cli("models", "--drafts", "main").stdout
    assert "test/tiny/noisy.gguf" in text
    assert "\u2248 test/tiny/other.gguf" in text


def test_drafts_for_a_model_outside_the_library_say_how_to_add_it(tiny_main, run_cli):
    code, _, err = run_cli("models", "--drafts", str(tiny_main))
    assert code == 1
    assert err.strip() == (
        f"error: {tiny_main} is not in a library folder "
        "(add its folder with `specula models --add-folder DIR`)"
    )
    code, _, err = run_cli("advise", "no-such-model")
    assert code == 1
    assert err.strip() == (
        "error: no model named 'no-such-model' in the library (give a path, or see `specula models`)"
    )

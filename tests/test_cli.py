"""The headless CLI, run as a user would: `python -m app generate ...` in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.library.mlx_fixtures import write_mlx_folder
from tests.model_factory import tiny_vocab, write_tiny_gguf

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def test_generate_json_with_a_draft(tiny_main, tiny_noisy):
    proc = cli(
        "generate",
        "--model",
        str(tiny_main),
        "--draft",
        str(tiny_noisy),
        "--prompt",
        "the cat",
        "--raw",
        "--max-tokens",
        "24",
        "--temperature",
        "0",
        "--draft-p-min",
        "0",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"text", "tokens", "stats"}
    assert "".join(t["text"] for t in out["tokens"]) == out["text"]
    assert {t["origin"] for t in out["tokens"]} <= {"main", "draft"}
    stats = out["stats"]
    for key in (
        "tokens_per_second",
        "time_to_first_token",
        "generation_time",
        "stop_reason",
        "prompt_tokens_count",
        "predicted_tokens_count",
        "draft_model",
        "total_draft_tokens_count",
        "accepted_draft_tokens_count",
        "rejected_draft_tokens_count",
        "ignored_draft_tokens_count",
    ):
        assert key in stats
    assert stats["draft_model"] == tiny_noisy.name
    assert stats["accepted_draft_tokens_count"] == sum(t["origin"] == "draft" for t in out["tokens"])
    assert stats["stop_reason"] == "max_tokens" and stats["predicted_tokens_count"] == 24


def test_generate_streams_text_to_stdout(tiny_main):
    proc = cli(
        "generate", "--model", str(tiny_main), "--prompt", "hello", "--max-tokens", "10", "--temperature", "0"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    assert "tok/s" in proc.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--prompt", "x", "--max-tokens", "0"], 2, "must be >= 1"),
        (["--prompt", "x", "--draft-p-min", "2"], 2, "--draft-p-min: must be <= 1"),
        (["--prompt", "x", "--temperature", "nan"], 2, "--temperature: must be a finite number"),
        (["--prompt", "x", "--top-k", "1.5"], 2, "--top-k: must be a whole number"),
        (["--prompt", "x", "--num-draft-tokens", "11"], 2, "--num-draft-tokens: must be <= 10"),
        (["--max-tokens", "3"], 2, "--prompt"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_line(args, code, needle):
    proc = cli("generate", *args)
    assert proc.returncode == code
    assert needle in proc.stderr and "Traceback" not in proc.stderr


def test_missing_corrupt_and_incompatible_models_are_one_line_errors(tmp_path, tiny_main):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 40)
    other = write_mlx_folder(tmp_path / "mlx-model", ["<s>", "</s>", "a"])  # another engine
    cases = [
        (["--model", str(tmp_path / "nope.gguf")], "model file not found"),
        (["--model", str(bad)], "bad.gguf"),
        (["--model", "no-such-model-name"], "no model named"),
        (["--model", str(tiny_main), "--draft", str(other)], "cannot draft for"),
        (["--model", str(tiny_main), "--draft", str(tiny_main)], "cannot draft for itself"),
        (["--model", str(tiny_main), "--draft", "no-such-draft"], "no model named"),
    ]
    for args, needle in cases:
        proc = cli("generate", *args, "--prompt", "hi", "--max-tokens", "4")
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr


def test_version_and_help():
    assert cli("--version").stdout.startswith("specula ")
    assert "generate" in cli("--help").stdout


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
    assert 0 < other["shared_token_share"] < 1 and "drafts through translation" in other["reason"]
    text = cli("models", "--drafts", "main").stdout
    assert "test/tiny/noisy.gguf" in text and "\u2248 test/tiny/other.gguf" in text


def test_generate_uses_the_models_saved_default_draft(tiny_main, tiny_noisy):
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.paths import models_dir

    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True)
    (folder / "main.gguf").write_bytes(tiny_main.read_bytes())
    (folder / "noisy.gguf").write_bytes(tiny_noisy.read_bytes())
    ModelDefaultsStore().update(
        "test/tiny/main.gguf", {"draft_model": "test/tiny/noisy.gguf", "temperature": 0.0}
    )
    args = (
        "generate",
        "--model",
        "test/tiny/main.gguf",
        "--prompt",
        "the",
        "--raw",
        "--max-tokens",
        "8",
        "--json",
    )
    with_default = json.loads(cli(*args).stdout)["stats"]
    assert with_default["draft_model"] == "noisy.gguf"
    without = json.loads(cli(*args, "--no-draft").stdout)["stats"]
    assert without["draft_model"] is None


def test_every_setting_flag_is_generated_from_the_declarations():
    from app.core.model_settings import MODEL_SETTINGS

    text = cli("generate", "--help").stdout
    for spec in MODEL_SETTINGS:
        assert spec.cli and spec.cli in text, spec.name
    assert "--no-draft-auto" in text and "1 to 64" in text


def _library_pair(tiny_main, tiny_twin) -> tuple[str, str]:
    from app.library.paths import models_dir

    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True)
    (folder / "main.gguf").write_bytes(tiny_main.read_bytes())
    (folder / "twin.gguf").write_bytes(tiny_twin.read_bytes())
    return "test/tiny/main.gguf", "test/tiny/twin.gguf"


def test_draft_auto_is_on_by_default_and_can_be_switched_off(tiny_main, tiny_twin):
    main, twin = _library_pair(tiny_main, tiny_twin)
    args = ("generate", "--model", main, "--draft", twin, "--prompt", "the", "--raw", "--max-tokens", "12")
    args += ("--temperature", "0", "--draft-p-min", "0", "--draft-max", "4", "--json")
    auto = json.loads(cli(*args).stdout)["stats"]["rounds"]
    fixed = json.loads(cli(*args, "--no-draft-auto").stdout)["stats"]["rounds"]
    assert auto[0] == [0, 0]  # Auto starts by timing plain steps
    assert fixed[0] == [4, 4]  # a fixed length drafts from the first round


def test_a_draft_with_a_small_context_of_its_own_drafts_a_long_reply(tiny_main, tiny_twin):
    from app.library.model_defaults import ModelDefaultsStore

    main, twin = _library_pair(tiny_main, tiny_twin)
    ModelDefaultsStore().update(twin, {"context_length": 256})
    proc = cli(
        "generate", "--model", main, "--draft", twin, "--prompt", "the", "--raw", "--max-tokens", "400",
        "--temperature", "0", "--draft-p-min", "0", "--draft-max", "4", "--no-draft-auto", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)["stats"]
    assert stats["predicted_tokens_count"] == 400 and stats["stop_reason"] == "max_tokens"
    assert stats["accepted_draft_tokens_count"] > 256


def test_a_prompt_spelling_control_tokens_is_read_as_text(tmp_path):
    """Issue 29: "<end_of_turn>" in the user's prompt is seven pieces of text to Gemma, not its
    end-of-turn token (the raw prompt, the user's own template, keeps its control tokens)."""
    from tests.model_factory import gemma_q4

    def prompt_tokens(prompt: str, *extra: str) -> int:
        proc = cli(
            "generate", "--model", str(gemma_q4()), "--prompt", prompt, "--max-tokens", "1", "--json", *extra
        )
        assert proc.returncode == 0, proc.stderr
        return int(json.loads(proc.stdout)["stats"]["prompt_tokens_count"])

    assert prompt_tokens("<end_of_turn>") == prompt_tokens("hello") + 6
    assert prompt_tokens("<end_of_turn>", "--raw") == 2  # <bos> and the control token itself

"""`specula generate`, run as a user would: `python -m app generate ...` in a child process."""

from __future__ import annotations

import json

import pytest

from app.engines.speculation_memory import SpeculationMemory
from tests.library.mlx_fixtures import write_mlx_folder
from tests.reliability.helpers import cli


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
    assert stats["stop_reason"] == "max_tokens"
    assert stats["predicted_tokens_count"] == 24


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
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_corrupt_and_incompatible_models_are_one_line_errors(tmp_path, tiny_main, run_cli):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 40)
    other = write_mlx_folder(tmp_path / "mlx-model", ["<s>", "</s>", "a"])  # another engine
    cases = [
        (["--model", str(tmp_path / "nope.gguf")], f"model file not found: {tmp_path / 'nope.gguf'}"),
        (["--model", str(bad)], "bad.gguf"),
        (
            ["--model", "no-such-model-name"],
            "no model named 'no-such-model-name' in the library (give a path, or see `specula models`)",
        ),
        (["--model", str(tiny_main), "--draft", str(other)], "cannot draft for"),
        (["--model", str(tiny_main), "--draft", str(tiny_main)], "cannot draft for itself"),
        (["--model", str(tiny_main), "--draft", "no-such-draft"], "no draft model named 'no-such-draft'"),
        (["--model", str(tiny_main), "--draft", str(tmp_path / "gone.gguf")], "draft model file not found"),
    ]
    for args, needle in cases:
        code, _, err = run_cli("generate", *args, "--prompt", "hi", "--max-tokens", "4")
        assert code == 1, (args, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("error: "), err
        assert needle in lines[0], err


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
    memory = SpeculationMemory().path  # the folder the child process writes to as well
    fixed = json.loads(cli(*args, "--no-draft-auto").stdout)["stats"]["rounds"]
    assert fixed[0] == [4, 4]  # a fixed length drafts from the first round ...
    assert not memory.exists()  # ... and learns nothing
    auto = json.loads(cli(*args).stdout)["stats"]["rounds"]
    assert auto  # Auto drafts a new pair from its first reply ...
    learned = json.loads(memory.read_text())["memory"]["pairs"]
    assert len(learned) == 1  # ... and remembers what the pair taught it


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
    assert stats["predicted_tokens_count"] == 400
    assert stats["stop_reason"] == "max_tokens"
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


def test_generate_reads_a_conversation_longer_than_the_context(tiny_main, tmp_path):
    turns = []
    for t in range(30):
        turns.append({"role": "user", "content": f"question {t}: the cat sat on the mat again"})
        turns.append({"role": "assistant", "content": f"answer {t}: the dog sat on the log"})
    turns.append({"role": "user", "content": "and now?"})
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(turns))
    args = ["generate", "--model", str(tiny_main), "--messages", str(path), "--ctx", "256"]
    proc = cli(*args, "--max-tokens", "8", "--temperature", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)["stats"]
    assert stats["context_length"] == 256
    assert stats["truncated_turns"] > 0
    assert stats["truncated_from"] == 1  # truncate-middle (the default) keeps the first question
    assert stats["prompt_tokens_count"] + 8 <= 256
    rolling = cli(*args, "--context-overflow", "rolling-window", "--max-tokens", "8", "--json")
    assert json.loads(rolling.stdout)["stats"]["truncated_from"] == 0
    wrong = cli(*args, "--context-overflow", "sideways")
    assert wrong.returncode != 0
    assert "--context-overflow: must be one of truncate-middle, rolling-window, stop-at-limit" in wrong.stderr

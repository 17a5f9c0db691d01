"""The MLX engine on tiny MLX models the tests write (llama-style config, random weights,
a byte-level BPE tokenizer): same loop, same events, same honest stats as llama.cpp."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.core import model_settings
from app.core.errors import DraftIncompatibleError, EngineUnavailableError, ModelFileError
from app.core.events import StopReason, TokenOrigin
from app.core.request import DraftSettings
from app.engines.compatibility import draft_source
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel
from app.engines.mlx import MLXModel
from app.library.draft_rules import check_draft
from tests.engines.helpers import GREEDY, assert_invariants, raw, run
from tests.mlx_factory import write_mlx_model

pytest.importorskip("mlx_lm")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mlx")
    return {
        "main": write_mlx_model(root / "main", seed=0),
        "twin": write_mlx_model(root / "twin", seed=0),
        "noisy": write_mlx_model(root / "noisy", seed=0, noise=0.15),
        "other": write_mlx_model(root / "other", seed=0, extra_special="<tool>"),
    }


@pytest.fixture(scope="module")
def models(folders):
    return {name: MLXModel(path) for name, path in folders.items()}


@pytest.mark.parametrize("draft_tokens", [1, 2, 4])
@pytest.mark.parametrize("prompt", ["the cat sat", "def add(x, y):"])
def test_greedy_speculative_equals_plain(models, prompt, draft_tokens):
    values = model_settings.effective(None, {"mlx_draft_tokens": draft_tokens})
    plain = run(models["main"], raw(prompt, 40))
    req = raw(prompt, 40).__class__(
        prompt=prompt, max_tokens=40, sampling=GREEDY, draft=DraftSettings.from_values(values, "MLX")
    )
    spec = run(models["main"], req, draft=ModelDraft(models["noisy"]))
    assert spec.text == plain.text
    assert [e.token_id for e in spec.events] == [e.token_id for e in plain.events]
    assert_invariants(spec)
    assert spec.stats.total_draft_tokens_count <= draft_tokens * spec.stats.verify_steps


def test_identical_draft_is_always_accepted(models):
    r = run(
        models["main"], raw("hello world", 30, max_draft_size=3, p_min=0.0), draft=ModelDraft(models["twin"])
    )
    s = r.stats
    assert s.accepted_draft_tokens_count == s.total_draft_tokens_count > 0
    assert s.rejected_draft_tokens_count == 0
    assert sum(e.origin is TokenOrigin.DRAFT for e in r.events) == s.accepted_draft_tokens_count


def test_noisy_draft_is_partly_rejected_and_counted(models):
    totals = [0, 0]
    for prompt in ("the cat sat", "hello world", "café"):
        s = run(
            models["main"], raw(prompt, 40, max_draft_size=2, p_min=0.0), draft=ModelDraft(models["noisy"])
        ).stats
        totals[0] += s.accepted_draft_tokens_count
        totals[1] += s.rejected_draft_tokens_count
    assert totals[0] > 0, totals
    assert totals[1] > 0, totals


def test_sampling_with_a_draft_is_reproducible(models):
    sampling = GREEDY.__class__(temperature=0.8, top_k=20, top_p=0.9, min_p=0.0, repeat_penalty=1.1, seed=7)
    req = raw("the dog", 30, sampling, max_draft_size=2, p_min=0.0)
    first = run(models["main"], req, draft=ModelDraft(models["noisy"]))
    assert first.text == run(models["main"], req, draft=ModelDraft(models["noisy"])).text
    assert_invariants(first)
    assert first.stats.total_draft_tokens_count > 0


def test_cancel(models):
    cancel = threading.Event()
    result = None
    count = 0
    for item in models["main"].generate(
        raw("the", 300, max_draft_size=2, p_min=0.0), draft=ModelDraft(models["twin"]), cancel=cancel
    ):
        if hasattr(item, "token_id"):
            count += 1
            if count == 3:
                cancel.set()
        else:
            result = item
    assert result is not None
    assert result.stats.stop_reason is StopReason.CANCELLED
    assert count <= 3 + 3


def test_compatibility_compares_vocabularies_not_just_sizes(folders):
    assert check_draft(folders["main"], folders["twin"])
    verdict = check_draft(folders["main"], folders["other"])
    assert not verdict
    assert "vocabulary" in verdict.reason


def test_another_vocabulary_translates_and_a_cross_engine_draft_is_refused(models, tiny_main):
    request = raw("the cat sat", max_tokens=16, max_draft_size=4)
    plain = run(models["main"], request)
    translated = run(
        models["main"], request, draft=draft_source(models["main"], models["other"])
    )  # another vocabulary
    assert translated.text == plain.text
    assert translated.stats.total_draft_tokens_count > 0
    gguf = LlamaCppModel(tiny_main)
    try:
        with pytest.raises(DraftIncompatibleError, match=r"llama\.cpp.*MLX"):
            models["main"].generate(raw("x"), draft=ModelDraft(gguf))
        with pytest.raises(DraftIncompatibleError, match=r"MLX.*llama\.cpp"):
            gguf.generate(raw("x"), draft=ModelDraft(models["main"]))
    finally:
        gguf.close()
    verdict = check_draft(tiny_main, models["main"].path)
    assert "MLX" in verdict.reason
    assert "llama.cpp" in verdict.reason


def test_bad_folders_get_clear_errors(tmp_path, folders):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError, match=r"config\.json is missing"):
        MLXModel(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folders["main"].iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    data = (broken / "model.safetensors").read_bytes()
    (broken / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        MLXModel(broken)
    (broken / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ModelFileError, match="corrupt safetensors"):
        MLXModel(broken)


def test_without_mlx_installed_the_error_names_the_install_command(folders, monkeypatch):
    monkeypatch.setattr("app.engines.mlx.mlx_available", lambda: False)
    with pytest.raises(EngineUnavailableError, match=r"specula\[mlx\]"):
        MLXModel(folders["main"])


def test_cli_generate_with_mlx_models(folders):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "generate",
            "--model",
            str(folders["main"]),
            "--draft",
            str(folders["twin"]),
            "--prompt",
            "the cat",
            "--raw",
            "--max-tokens",
            "12",
            "--temperature",
            "0",
            "--num-draft-tokens",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["stats"]["draft_model"] == "twin"
    assert out["stats"]["accepted_draft_tokens_count"] > 0


def test_a_chat_longer_than_the_context_goes_on_with_and_without_a_draft(tmp_path):
    """Context Overflow on MLX: the same fitting, the same greedy replies with a draft."""
    from app.core.context_overflow import ContextOverflow
    from app.core.request import ChatMessage, GenerationRequest, Role
    from tests.mlx_factory import CHATML

    folder = write_mlx_model(tmp_path / "chat", seed=0, chat_template=CHATML)
    main = MLXModel(folder, n_ctx=256)
    noisy = write_mlx_model(tmp_path / "chat-noisy", seed=0, noise=0.15, chat_template=CHATML)
    draft = ModelDraft(MLXModel(noisy, n_ctx=256))
    for policy in ContextOverflow:
        store = [ChatMessage(Role.SYSTEM, "be brief")]
        truncated = 0
        for turn in range(40):
            store.append(ChatMessage(Role.USER, f"question {turn}: the cat sat on the mat"))
            req = GenerationRequest(
                messages=tuple(store),
                max_tokens=6,
                sampling=GREEDY,
                draft=DraftSettings(auto=False, p_min=0.0),
                context_overflow=policy,
            )
            plain = run(main, req)
            assert plain.result.error is None
            if policy is ContextOverflow.TRUNCATE_MIDDLE:
                assert run(main, req, draft=draft).text == plain.text
            assert plain.stats.prompt_tokens_count + plain.stats.predicted_tokens_count <= 256
            truncated += plain.stats.truncated_turns > 0
            store.append(ChatMessage(Role.ASSISTANT, plain.text))
        assert truncated > 20
        assert plain.stats.truncated_from == (0 if policy is ContextOverflow.ROLLING_WINDOW else 1)

"""llama.cpp aborts the whole process (SIGABRT, exit 134) on a batch past the context's real
batch limit; every setting a user can choose must keep us under it, and a context too small to
use is refused with a message before llama.cpp sees it."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.errors import InvalidRequestError
from app.engines.llamacpp import MIN_CONTEXT, LlamaCppModel, LoadOptions
from tests.reliability.helpers import assert_clean_failure, cli

PROMPT = "the cat sat on the mat " * 25  # ~380 tokens of the tiny vocabulary


@pytest.mark.parametrize("ctx", ["257", "300", "511"])
def test_a_context_between_batch_sizes_with_a_longer_prompt_does_not_abort(tiny_main, ctx):
    proc = cli(
        "generate", "--model", str(tiny_main), "--no-draft", "--raw", "--ctx", ctx,
        "--max-tokens", "4", "--temperature", "0", "--prompt", PROMPT,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert "4 tokens" in proc.stderr


def test_the_batch_is_what_the_context_really_took(tiny_main):
    model = LlamaCppModel(tiny_main, LoadOptions(n_ctx=300))
    try:
        assert model.n_ctx >= 300
        assert model.n_batch <= 300
        tokens = model.tokenize(PROMPT)
        assert model.n_batch < len(tokens) < model.n_ctx
        model.eval(tokens, n_logits=1)
        assert len(model.cached) == len(tokens)
    finally:
        model.close()


def test_logit_rows_are_right_when_they_straddle_a_batch_boundary(tiny_main):
    """Rows that need logits all land in the last decode call, whatever the chunking."""
    small = LlamaCppModel(tiny_main, LoadOptions(n_ctx=256, n_batch=64))
    whole = LlamaCppModel(tiny_main, LoadOptions(n_ctx=256))
    try:
        tokens = small.tokenize("the cat sat on the mat " * 6)[:70]  # 70 tokens: 64 + 6
        assert small.n_batch == 64
        assert len(tokens) == 70
        small.eval(tokens, n_logits=10)
        whole.eval(tokens, n_logits=10)
        for row in range(10):  # equal up to kernel rounding; a shifted row would be far off
            assert np.abs(small.logits(row) - whole.logits(row)).max() < 1e-2
            assert np.abs(small.logits(row) - whole.logits((row + 1) % 10)).max() > 0.5
    finally:
        small.close()
        whole.close()


@pytest.mark.parametrize("n_ctx", [1, 16, MIN_CONTEXT - 1])
def test_a_tiny_context_is_refused_before_llama_cpp_sees_it(tiny_main, n_ctx):
    with pytest.raises(InvalidRequestError, match=f"at least {MIN_CONTEXT}"):
        LlamaCppModel(tiny_main, LoadOptions(n_ctx=n_ctx))


def test_generate_ctx_1_is_an_error_not_an_abort(tiny_main):
    proc = cli("generate", "--model", str(tiny_main), "--no-draft", "--ctx", "1", "--prompt", "hello")
    assert_clean_failure(proc, "error:")


@pytest.mark.slow
def test_the_issue_repro_with_gemma():
    """The report's own command, on the real Gemma 3 270M."""
    from tests.model_factory import gemma_q4

    prompt = "one two three four five six seven eight nine ten " * 30
    proc = cli(
        "generate", "--model", str(gemma_q4()), "--no-draft", "--ctx", "300", "--max-tokens", "4",
        "--prompt", prompt, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])

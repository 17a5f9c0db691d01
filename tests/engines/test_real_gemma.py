"""End to end on the real Gemma 3 270M: its Q4_K_M drafts for an F16 twin derived from it."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import pytest

from app.core.request import ChatMessage, GenerationRequest, Role
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.lookup_draft import PromptLookupDraft
from app.engines.speculative import run_generation
from app.library.draft_rules import check_draft
from tests.engines.helpers import GREEDY, assert_invariants, raw, run
from tests.model_factory import gemma_cut_down, gemma_f16_twin, gemma_q4

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair():
    main = LlamaCppModel(gemma_f16_twin(), LoadOptions(n_ctx=1024))
    draft = LlamaCppModel(gemma_q4(), LoadOptions(n_ctx=1024))
    yield main, draft
    main.close()
    draft.close()


def test_the_real_pair_is_compatible_and_the_cut_down_copy_too():
    assert check_draft(gemma_f16_twin(), gemma_q4())
    assert check_draft(gemma_f16_twin(), gemma_cut_down())


@pytest.mark.parametrize("prompt", ["The capital of France is", "def fibonacci(n):\n"])
def test_greedy_speculative_equals_plain_on_the_real_pair(pair, prompt):
    main, draft = pair
    plain = run(main, raw(prompt, 64))
    spec = run(main, raw(prompt, 64, max_draft_size=8, p_min=0.0), draft=ModelDraft(draft))
    assert spec.text == plain.text
    assert_invariants(spec)
    s = spec.stats
    assert s.acceptance_rate is not None
    assert s.acceptance_rate > 0.5
    assert s.verify_steps < plain.stats.verify_steps


def test_chat_template_on_the_real_model(pair):
    main, draft = pair
    request = GenerationRequest(
        messages=(ChatMessage(Role.USER, "Name a colour."),), max_tokens=24, sampling=GREEDY
    )
    plain = run(main, request)
    spec = run(main, request, draft=ModelDraft(draft))
    assert plain.text == spec.text
    assert plain.text.strip()
    assert "<start_of_turn>" not in plain.text


def test_the_speedup_is_measured_under_the_replys_own_load():
    """Busy processes (this test's own, twice as many as cores) start between replies and
    stop after: a reply under load measures its no-draft speed under load, so its speed-up
    stays near the calm one (a baseline from the calm minutes would make it about three
    times smaller), and never above what its own structure allows."""
    model = LlamaCppModel(gemma_q4(), LoadOptions(n_ctx=1024, n_threads=1))
    prompt = model.tokenize(
        "Repeat: " + "the red fox jumps over the lazy dog and runs away. " * 4 + "\nthe red fox"
    )

    def speedups() -> list[float]:
        request = raw("", 32, p_min=0.0)
        stats = [list(run_generation(model, PromptLookupDraft(), prompt, request))[-1].stats]
        for s in stats:
            assert s.speedup is not None
            assert s.decode_tokens_per_step is not None
            assert s.speedup <= s.decode_tokens_per_step
        return [s.speedup or 0.0 for s in stats]

    try:
        calm = speedups()
        spin = "import time\nend = time.time() + 120\nwhile time.time() < end: pass"
        hogs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2 * (os.cpu_count() or 1))]
        try:
            busy = speedups()
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait(timeout=30)
    finally:
        model.close()
    assert statistics.median(calm) / 2 <= statistics.median(busy) <= statistics.median(calm) * 2

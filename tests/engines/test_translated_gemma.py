"""The real model behind another tokenizer: the bundled Gemma with its normal token ids
shuffled (derived at test time) drafts for the F16 twin through translation. The text is the
main model's, token for token, and acceptance is close to the exact Q4_K_M draft's."""

from __future__ import annotations

import pytest

from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.translated_draft import TranslatedDraft
from app.library.draft_rules import check_draft
from tests.engines.helpers import assert_invariants, raw, run
from tests.model_factory import gemma_f16_twin, gemma_permuted_twin, gemma_q4

PROMPTS = ["The capital of France is", "Le café est très", "def fibonacci(n):\n"]


@pytest.fixture(scope="module")
def models():
    loaded = {
        "main": LlamaCppModel(gemma_f16_twin(), LoadOptions(n_ctx=512)),
        "q4": LlamaCppModel(gemma_q4(), LoadOptions(n_ctx=512)),
        "permuted": LlamaCppModel(gemma_permuted_twin(), LoadOptions(n_ctx=512)),
    }
    yield loaded
    for model in loaded.values():
        model.close()


def test_the_permuted_twin_drafts_through_translation_with_every_text_shared():
    verdict = check_draft(gemma_f16_twin(), gemma_permuted_twin(), translate=True)
    assert verdict.translated
    assert not verdict.compatible
    assert verdict.share == 1.0


@pytest.mark.parametrize("fast_path", [True, False], ids=["map", "text"])
def test_greedy_equals_plain_and_acceptance_is_the_exact_twins(models, fast_path):
    main = models["main"]
    accepted = {"exact": 0, "translated": 0}
    drafted = {"exact": 0, "translated": 0}
    for prompt in PROMPTS:
        request = raw(prompt, max_tokens=24, max_draft_size=4, p_min=0.0)
        plain = run(main, request)
        exact = run(main, request, draft=ModelDraft(models["q4"]))
        source = TranslatedDraft(main, models["permuted"], fast_path=fast_path)
        assert source.translating == ("map" if fast_path else "text")
        got = run(main, request, draft=source)
        assert got.text == plain.text == exact.text, prompt
        assert_invariants(got)
        for name, r in (("exact", exact), ("translated", got)):
            accepted[name] += r.stats.accepted_draft_tokens_count
            drafted[name] += r.stats.total_draft_tokens_count
    rate = {k: accepted[k] / max(drafted[k], 1) for k in accepted}
    assert drafted["translated"] > 0
    assert rate["translated"] >= rate["exact"] - 0.1, (rate, drafted)

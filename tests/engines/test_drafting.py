"""Draft sources (model, prompt lookup, chained), their spec keys, and the fixed cutoff."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from app.core.errors import DraftIncompatibleError
from app.core.request import SamplingSettings
from app.engines.compatibility import draft_source
from app.engines.drafting import (
    PROMPT_LOOKUP_KEY,
    Capabilities,
    CutoffRule,
    ModelDraft,
    chained_key,
    chained_name,
    is_free,
    parse_draft_key,
)
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.lookup_draft import ChainedDraft, PromptLookupDraft
from app.engines.sampling import TokenSampler
from tests.engines.helpers import assert_invariants, raw, run


def test_prompt_lookup_proposes_what_followed_the_latest_match():
    pl = PromptLookupDraft()
    seq = [9, 1, 2, 3, 4, 5, 6, 7, 1, 2, 3]
    assert pl.lookup(seq, 3) == [4, 5, 6]
    assert pl.lookup([*seq, 4, 5, 8, 2, 3], 2) == [4, 5]  # (1, 2, 3) no longer ends it; (2, 3) does
    assert pl.lookup([10, 11, 12, 13], 4) == []  # no earlier occurrence (and the index was reset)


def test_prompt_lookup_never_proposes_past_the_end():
    assert PromptLookupDraft().lookup([1, 2, 1, 2], 8) == [1, 2]


def test_prompt_lookup_proposals_are_deterministic_and_cut_by_the_rule():
    sampler = TokenSampler(SamplingSettings())
    p = PromptLookupDraft().propose([5, 1, 2, 3, 4, 1, 2], 8, sampler, CutoffRule(0.99))
    assert p.tokens == [3, 4, 1, 2]
    assert p.dists == [None] * 4
    assert not p.from_model
    assert all(is_free(c) for c in p.confidences)  # no probability: the match's strength

    class FirstTwo:
        needs_confidence = False
        model_allowed = True

        def keep(self, position: int, confidence: float, model_step: bool) -> bool:
            return position <= 2

        def extend(self, kept: int) -> bool:
            return True

    assert PromptLookupDraft().propose([5, 1, 2, 3, 4, 1, 2], 8, sampler, FirstTwo()).tokens == [3, 4]


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("", (None, False)),
        (None, (None, False)),
        (PROMPT_LOOKUP_KEY, (None, True)),
        ("google/gemma/q4.gguf", ("google/gemma/q4.gguf", False)),
        (chained_key("google/gemma/q4.gguf"), ("google/gemma/q4.gguf", True)),
        ("a+b/file.gguf", ("a+b/file.gguf", False)),
    ],
)
def test_draft_spec_keys(spec, parsed):
    assert parse_draft_key(spec) == parsed


def test_chained_names_and_keys():
    assert chained_key("pub/repo/d.gguf") == "pub/repo/d.gguf+prompt-lookup"
    assert chained_name("d.gguf") == "d.gguf + prompt lookup"


def test_cutoff_rule():
    rule = CutoffRule(0.75)
    assert rule.needs_confidence
    assert not CutoffRule(0.0).needs_confidence
    assert rule.keep(1, 0.8, True)
    assert not rule.keep(1, 0.7, True)
    assert rule.keep(3, math.nan, False)


@pytest.fixture(scope="module")
def models(tiny_main: Path, tiny_twin: Path):
    loaded = {
        "main": LlamaCppModel(tiny_main, LoadOptions(n_ctx=512)),
        "twin": LlamaCppModel(tiny_twin, LoadOptions(n_ctx=512)),
    }
    yield loaded
    for m in loaded.values():
        m.close()


def test_sources_declare_what_they_are(models):
    main, twin = models["main"], models["twin"]
    source = draft_source(main, twin)
    assert isinstance(source, ModelDraft)
    assert source.model is twin
    assert source.translates_for is None
    assert source.capabilities == Capabilities(reads_prompt=True, can_pause=True, free_part=False)
    lookup = PromptLookupDraft()
    assert lookup.model is None
    assert lookup.capabilities == Capabilities(False, False, free_part=True)
    chained = draft_source(main, twin, lookup=True)
    assert isinstance(chained, ChainedDraft)
    assert chained.model is twin
    assert chained.capabilities == Capabilities(reads_prompt=True, can_pause=True, free_part=True)
    with pytest.raises(DraftIncompatibleError, match="itself"):
        draft_source(main, main)
    assert chained.name == "tiny-twin.gguf + prompt lookup"
    assert chained.identity.endswith("+prompt-lookup")
    assert str(twin.path.resolve()) in chained.identity


class CountingLookup(PromptLookupDraft):
    def __init__(self) -> None:
        super().__init__()
        self.hits = 0

    def propose(self, sequence, budget, sampler, rule):
        out = super().propose(sequence, budget, sampler, rule)
        self.hits += bool(out.tokens)
        return out


def test_chained_drafting_uses_lookup_first_and_the_model_otherwise(models, monkeypatch):
    model_rounds = []
    original = ModelDraft.propose

    def counting(self, sequence, budget, sampler, rule):
        out = original(self, sequence, budget, sampler, rule)
        model_rounds.append(len(out.tokens))
        return out

    monkeypatch.setattr(ModelDraft, "propose", counting)
    lookup = CountingLookup()
    prompt = "the cat sat on the mat and the dog ran to the house . the cat sat on the"
    plain = run(models["main"], raw(prompt, 60))
    chained = ChainedDraft(ModelDraft(models["twin"]), lookup)
    spec = run(models["main"], raw(prompt, 60, max_draft_size=4, p_min=0.0), draft=chained)
    assert spec.text == plain.text
    assert_invariants(spec)
    assert lookup.hits > 0, (lookup.hits, model_rounds)
    assert model_rounds, (lookup.hits, model_rounds)
    assert spec.stats.draft_model == "tiny-twin.gguf + prompt lookup"
    assert spec.stats.accepted_draft_tokens_count > 0

"""Drafts with another tokenizer, on tiny llama.cpp pairs whose tokenizers really differ: a
larger vocabulary, other merges, byte fallback where the main model has a token, and a
vocabulary with its ids shuffled. Whatever the draft, the greedy text is the main model's."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import DraftIncompatibleError
from app.core.request import SamplingSettings
from app.engines.compatibility import draft_source
from app.engines.drafting import CutoffRule, ModelDraft, Proposal
from app.engines.llamacpp import LlamaCppModel
from app.engines.lookup_draft import ChainedDraft, PromptLookupDraft
from app.engines.sampling import TokenSampler
from app.engines.translated_draft import TranslatedDraft
from app.library.draft_rules import check_draft
from tests.conftest import VOCAB
from tests.engines.helpers import assert_invariants, raw, run
from tests.model_factory import permuted_twin, remap_vocab

N = len(VOCAB)
PROMPTS = ["the cat sat on the mat", "café naïve é", "東京 and 🙂 the dog", "def f(x):\n\treturn x + y"]
# tokens that merge pairs the main vocabulary leaves apart: the draft segments text otherwise
MERGES = [
    m
    for m in ["ca", "at", "\u2581c", "\u2581ca", "\u2581th", "og", "\u2581do", "ou", "se", "\u2581sa", "re"]
    if m not in VOCAB
]


@pytest.fixture(scope="module")
def pair_files(tiny_main: Path, models_dir: Path) -> dict[str, Path]:
    """Drafts made from tiny_main itself (same weights for the tokens both have)."""
    out = models_dir / "xtok"
    larger = [*range(N), *[-1] * 300]
    first = VOCAB.index("<0xFF>") + 1  # the merges go in before the words: every id moves
    merges = [*range(first), *[-1] * len(MERGES), *range(first, N)]
    no_e = VOCAB.index("\u00e9")
    no_caf = VOCAB.index("\u2581caf")
    fallback = {no_e: "\u2581zzq", no_caf: "\u2581zzr"}  # é and ▁caf gone: byte fallback there
    return {
        "larger": remap_vocab(
            tiny_main, out / "larger.gguf", larger, [*VOCAB, *[f"\u2581more{i}" for i in range(300)]]
        ),
        "merges": remap_vocab(
            tiny_main, out / "merges.gguf", merges, [*VOCAB[:first], *MERGES, *VOCAB[first:]]
        ),
        "fallback": remap_vocab(
            tiny_main,
            out / "fallback.gguf",
            list(range(N)),
            [fallback.get(i, t) for i, t in enumerate(VOCAB)],
        ),
        "permuted": permuted_twin(tiny_main, out / "permuted.gguf", seed=3),
    }


@pytest.fixture(scope="module")
def main_model(tiny_main: Path):
    model = LlamaCppModel(tiny_main)
    yield model
    model.close()


@pytest.fixture(scope="module")
def drafts(pair_files):
    models = {name: LlamaCppModel(path) for name, path in pair_files.items()}
    yield models
    for m in models.values():
        m.close()


def test_every_pair_is_refused_by_the_exact_rules_and_drafts_through_translation(tiny_main, pair_files):
    for name, path in pair_files.items():
        assert not check_draft(tiny_main, path), name
        verdict = check_draft(tiny_main, path, translate=True)
        assert verdict.translated, name
        assert verdict.usable, name
        assert verdict.reason.startswith("drafts through translation"), name
        assert verdict.share is not None
        assert 0.0 < verdict.share <= 1.0
    assert check_draft(tiny_main, pair_files["permuted"], translate=True).share == 1.0


@pytest.mark.parametrize("name", ["larger", "merges", "fallback", "permuted"])
@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_text_is_the_main_models_own(main_model, drafts, name, prompt):
    plain = run(main_model, raw(prompt, max_tokens=32))
    source = draft_source(main_model, drafts[name])
    drafted = run(main_model, raw(prompt, max_tokens=32, max_draft_size=5), draft=source)
    assert drafted.text == plain.text
    assert [e.token_id for e in drafted.events] == [e.token_id for e in plain.events]
    assert_invariants(drafted)
    assert drafted.stats.total_draft_tokens_count > 0
    assert drafted.stats.draft_model == drafts[name].name


def test_the_draft_is_translated_and_ids_cross_by_table_only_for_a_shuffled_vocabulary(main_model, drafts):
    for name, model in drafts.items():
        source = draft_source(main_model, model)
        assert isinstance(source, TranslatedDraft)
        assert source.model is model
        assert source.translates_for is main_model
        assert source.translating == ("map" if name == "permuted" else "text")
        with pytest.raises(DraftIncompatibleError, match="translation"):  # its own ids would be wrong
            main_model.generate(raw("the"), draft=ModelDraft(model))
    chained = draft_source(main_model, drafts["merges"], lookup=True)
    assert isinstance(chained, ChainedDraft)
    assert isinstance(chained.draft, TranslatedDraft)


def test_a_shuffled_vocabulary_is_accepted_like_the_same_model(main_model, drafts, tiny_twin):
    """Same weights behind shuffled ids: through the table every drafted token is accepted,
    exactly as with the twin. (Through text a random tiny model does less well: it emits
    token sequences its own tokenizer would never produce, which re-tokenizing cannot match;
    real models write canonical tokens, see test_translated_gemma.py.)"""
    twin = LlamaCppModel(tiny_twin)
    try:
        for prompt in PROMPTS[:2]:
            request = raw(prompt, max_tokens=32, max_draft_size=4)
            exact = run(main_model, request, draft=ModelDraft(twin))
            got = run(main_model, request, draft=TranslatedDraft(main_model, drafts["permuted"]))
            s = got.stats
            assert s.accepted_draft_tokens_count == s.total_draft_tokens_count > 0
            assert s.accepted_draft_tokens_count == exact.stats.accepted_draft_tokens_count
            assert [e.origin for e in got.events] == [e.origin for e in exact.events]  # same green
    finally:
        twin.close()


def test_sampling_with_a_translated_draft_keeps_the_counts_honest(main_model, drafts):
    sampling = SamplingSettings(temperature=0.8, seed=5, repeat_penalty=1.0)
    for name in ("merges", "permuted"):
        r = run(
            main_model,
            raw("the cat", max_tokens=32, sampling=sampling, max_draft_size=4),
            draft=draft_source(main_model, drafts[name]),
        )
        assert_invariants(r)
        assert r.stats.predicted_tokens_count == 32 or r.stats.stop_reason.value != "max_tokens"


def test_chained_with_prompt_lookup(main_model, drafts):
    prompt = "the cat sat on the mat and the dog ran to the house. the cat sat on"
    plain = run(main_model, raw(prompt, max_tokens=24))
    chained = ChainedDraft(TranslatedDraft(main_model, drafts["fallback"]), PromptLookupDraft())
    got = run(main_model, raw(prompt, max_tokens=24, max_draft_size=4), draft=chained)
    assert got.text == plain.text
    assert got.stats.total_draft_tokens_count > 0
    assert_invariants(got)


def test_only_whole_characters_are_proposed(main_model, drafts):
    """A draft whose text ends inside a character proposes nothing past the last whole one,
    and a main-model text ending inside one makes the draft wait."""
    source = TranslatedDraft(main_model, drafts["fallback"])
    sampler = TokenSampler(SamplingSettings(temperature=0.0, repeat_penalty=1.0))
    rule = CutoffRule(0.0)
    prompt = main_model.tokenize("café", add_special=True)
    source.warm(prompt)
    lead = main_model.tokenize("é", add_special=False)
    assert main_model.piece(lead[-1]) == "é".encode()
    e_first_byte = VOCAB.index("<0xC3>")
    half = [*prompt, e_first_byte]  # the text now ends inside "é"
    out = source.propose(half, 4, sampler, rule)
    assert out.tokens == []
    assert out.from_model
    # the draft proposes " the" then the first byte of "é": only " the" goes to the main model
    draft_ids = [VOCAB.index("\u2581the"), VOCAB.index("<0xC3>")]
    source._inner.propose = lambda *_a: Proposal(draft_ids, [None, None], [0.9, 0.8], True, 2)  # type: ignore[method-assign]
    whole = source.propose([*half, VOCAB.index("<0xA9>")], 6, sampler, rule)
    assert b"".join(main_model.piece(t) for t in whole.tokens) == b" the"
    assert whole.dists == [None] * len(whole.tokens)  # proposed deterministically
    assert whole.confidences == [0.9] * len(whole.tokens)
    assert whole.steps == 2

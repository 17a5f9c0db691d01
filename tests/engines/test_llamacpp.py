"""The llama.cpp engine and our speculative loop, on tiny generated GGUF models."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from app.core.errors import ContextOverflowError, DraftIncompatibleError, ModelFileError
from app.core.events import StopReason, TokenOrigin
from app.core.request import SamplingSettings
from app.engines.compatibility import draft_source
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.conftest import VOCAB
from tests.engines.helpers import assert_invariants, raw, run
from tests.model_factory import tiny_vocab, write_tiny_gguf


@pytest.fixture(scope="module")
def main(tiny_main: Path):
    model = LlamaCppModel(tiny_main, LoadOptions(n_ctx=512))
    yield model
    model.close()


@pytest.fixture(scope="module")
def noisy(tiny_noisy: Path):
    model = LlamaCppModel(tiny_noisy, LoadOptions(n_ctx=512))
    yield model
    model.close()


@pytest.fixture(scope="module")
def twin(tiny_twin: Path):
    model = LlamaCppModel(tiny_twin, LoadOptions(n_ctx=512))
    yield model
    model.close()


@pytest.fixture(scope="module")
def cyc(cycle_main: Path):
    model = LlamaCppModel(cycle_main, LoadOptions(n_ctx=512))
    yield model
    model.close()


@pytest.fixture(scope="module")
def cyc_draft(cycle_draft: Path):
    model = LlamaCppModel(cycle_draft, LoadOptions(n_ctx=512))
    yield model
    model.close()


@pytest.fixture(scope="module")
def cyc_twin(cycle_twin: Path):
    model = LlamaCppModel(cycle_twin, LoadOptions(n_ctx=512))
    yield model
    model.close()


PROMPTS = ["the cat sat on the mat", "hello world", "def x ( y ) : return y + x"]


@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize(("max_draft", "p_min"), [(16, 0.0), (4, 0.0), (8, 0.75), (2, 0.3)])
def test_greedy_speculative_text_equals_plain_text(main, noisy, prompt, max_draft, p_min):
    plain = run(main, raw(prompt, 60))
    spec = run(main, raw(prompt, 60, max_draft_size=max_draft, p_min=p_min), draft=ModelDraft(noisy))
    assert spec.text == plain.text
    assert [e.token_id for e in spec.events] == [e.token_id for e in plain.events]
    assert_invariants(spec)
    assert_invariants(plain)
    assert plain.stats.total_draft_tokens_count == 0


def test_noisy_draft_gets_some_accepted_and_some_rejected(main, noisy):
    totals = [0, 0]
    for prompt in PROMPTS:
        s = run(main, raw(prompt, 60, p_min=0.0), draft=ModelDraft(noisy)).stats
        totals[0] += s.accepted_draft_tokens_count
        totals[1] += s.rejected_draft_tokens_count
    assert totals[0] > 0, totals
    assert totals[1] > 0, totals


def test_identical_draft_is_always_accepted_and_needs_fewer_main_steps(main, twin):
    plain = run(main, raw("the cat", 50))
    spec = run(main, raw("the cat", 50, max_draft_size=8, p_min=0.0), draft=ModelDraft(twin))
    assert spec.text == plain.text
    s = spec.stats
    assert s.rejected_draft_tokens_count == 0
    assert s.accepted_draft_tokens_count == s.total_draft_tokens_count > 0
    assert s.verify_steps < plain.stats.verify_steps / 3
    origins = [e.origin for e in spec.events]
    assert origins[0] is TokenOrigin.MAIN
    assert TokenOrigin.DRAFT in origins


def test_sampling_with_a_draft_is_reproducible_and_counted(main, noisy):
    """At temperature > 0 the text is the main model's distribution, not plain's draw (see
    test_speculative_sampling.py); with a seed it is the same every time."""
    sampling = SamplingSettings(temperature=0.9, top_k=40, top_p=0.95, min_p=0.0, repeat_penalty=1.1, seed=42)
    first = run(main, raw("the dog", 50, sampling, p_min=0.0), draft=ModelDraft(noisy))
    again = run(main, raw("the dog", 50, sampling, p_min=0.0), draft=ModelDraft(noisy))
    assert first.text == again.text
    assert_invariants(first)
    assert first.stats.total_draft_tokens_count > 0


def test_known_rejections_with_cycle_models(cyc, cyc_draft):
    """The draft is wrong exactly after token ids divisible by 7: the output must still be the
    main model's cycle, and some drafts are rejected at those points."""
    plain = run(cyc, raw("the", 80))
    spec = run(cyc, raw("the", 80, max_draft_size=4, p_min=0.5), draft=ModelDraft(cyc_draft))
    assert spec.text == plain.text
    ids = [e.token_id for e in plain.events]
    assert all(b == 3 + ((a - 3 + 1) % (len(VOCAB) - 3)) for a, b in itertools.pairwise(ids))
    s = spec.stats
    assert s.rejected_draft_tokens_count > 0
    assert s.accepted_draft_tokens_count > s.rejected_draft_tokens_count
    assert_invariants(spec)


def test_short_drafts_are_ignored_never_sent(cyc, cyc_twin):
    # max_tokens 7 leaves budgets 5,4,3,2,1: all below Min Draft Size 8, so all ignored (the
    # round of 4 measures the speed without the draft instead).
    r = run(cyc, raw("the", 7, max_draft_size=8, min_draft_size=8, p_min=0.0), draft=ModelDraft(cyc_twin))
    s = r.stats
    assert s.ignored_draft_tokens_count == s.total_draft_tokens_count == 5 + 3 + 2 + 1
    assert s.accepted_draft_tokens_count == s.rejected_draft_tokens_count == 0
    assert all(e.origin is TokenOrigin.MAIN for e in r.events)
    assert s.verify_steps == 6
    assert_invariants(r)


def test_probability_cutoff_of_one_drafts_nothing(main, twin):
    r = run(main, raw("the cat", 20, p_min=1.0), draft=ModelDraft(twin))
    assert r.stats.total_draft_tokens_count == 0


def test_utf8_character_split_across_draft_and_main_tokens(models_dir, cyc):
    """A model whose greedy path spells 'café' with 'é' as two byte tokens."""
    vocab = tiny_vocab()
    path_ids = [vocab.index("\u2581caf"), vocab.index("<0xC3>"), vocab.index("<0xA9>"), vocab.index("<0x21>")]

    def succ(t: int) -> int:
        return path_ids[(path_ids.index(t) + 1) % len(path_ids)] if t in path_ids else path_ids[0]

    main_path = write_tiny_gguf(models_dir / "cafe-main.gguf", seed=5, successor=succ)
    draft_path = write_tiny_gguf(models_dir / "cafe-draft.gguf", seed=5, successor=succ)
    main_m, draft_m = LlamaCppModel(main_path), LlamaCppModel(draft_path)
    try:
        r = run(main_m, raw("the", 12, max_draft_size=3, p_min=0.0), draft=ModelDraft(draft_m))
    finally:
        main_m.close()
        draft_m.close()
    assert "café!" in r.text
    assert all("\ufffd" not in e.text for e in r.events)
    split = [e for e in r.events if e.token_id == vocab.index("<0xC3>")]
    assert split
    assert all(e.text == "" for e in split)
    assert {e.origin for e in r.events} == {TokenOrigin.MAIN, TokenOrigin.DRAFT}
    assert_invariants(r)


def test_stop_string_ends_the_reply_and_is_not_included(cyc, cyc_twin):
    full = run(cyc, raw("the", 30)).text
    stop = full[10:13]
    r = run(
        cyc,
        raw("the", 30, p_min=0.0).__class__(
            prompt="the", max_tokens=30, sampling=raw("the").sampling, stop=(stop,)
        ),
        draft=ModelDraft(cyc_twin),
    )
    assert r.stats.stop_reason is StopReason.STOP_STRING
    assert r.text == full[: full.index(stop)]
    assert_invariants(r)


def test_cancel_ends_within_one_round_and_keeps_the_partial_text(main, twin):
    cancel = threading.Event()
    events = []
    result = None
    for item in main.generate(
        raw("the cat", 400, max_draft_size=4, p_min=0.0), draft=ModelDraft(twin), cancel=cancel
    ):
        if hasattr(item, "token_id"):
            events.append(item)
            if len(events) == 5:
                cancel.set()
        else:
            result = item
    assert result is not None
    assert result.stats.stop_reason is StopReason.CANCELLED
    assert 5 <= len(events) <= 5 + 4 + 1
    assert result.text == "".join(e.text for e in events)
    assert result.text


def test_max_tokens_is_exact_with_a_draft(main, twin):
    r = run(main, raw("the", 13, max_draft_size=16, p_min=0.0), draft=ModelDraft(twin))
    assert r.stats.predicted_tokens_count == 13
    assert r.stats.stop_reason is StopReason.MAX_TOKENS


def test_cache_reuse_across_requests_gives_the_same_text(main, noisy):
    first = run(main, raw("the cat sat", 30)).text
    run(main, raw("hello world", 30), draft=ModelDraft(noisy))
    assert run(main, raw("the cat sat", 30), draft=ModelDraft(noisy)).text == first
    assert run(main, raw("the cat sat", 30)).text == first


def test_prompt_longer_than_context_is_refused_before_any_work(tiny_main):
    model = LlamaCppModel(tiny_main, LoadOptions(n_ctx=256))
    try:
        with pytest.raises(ContextOverflowError, match="context holds"):
            model.generate(raw("the cat " * 300))
    finally:
        model.close()


def test_a_draft_with_another_vocabulary_drafts_through_translation(main, models_dir):
    """Once refused ("vocabulary sizes differ"): now it drafts, and the text is unchanged."""
    other = write_tiny_gguf(models_dir / "other-vocab.gguf", tokens=tiny_vocab(extra=300))
    draft = LlamaCppModel(other)
    try:
        plain = run(main, raw("the cat", max_tokens=24))
        drafted = run(main, raw("the cat", max_tokens=24, max_draft_size=4), draft=draft_source(main, draft))
        assert drafted.text == plain.text
        assert drafted.stats.total_draft_tokens_count > 0
        with pytest.raises(DraftIncompatibleError, match="itself"):
            main.generate(raw("the"), draft=ModelDraft(main))
    finally:
        draft.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a GGUF file"),
        (b"hello, this is not a model at all" * 4, "not a GGUF file"),
        (b"GGUF" + (3).to_bytes(4, "little") + b"\xff" * 16, "implausible"),
    ],
)
def test_broken_files_get_a_clear_error(tmp_path, content, message):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        LlamaCppModel(bad)


def test_truncated_and_missing_files_get_a_clear_error(tmp_path, tiny_main):
    data = tiny_main.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        LlamaCppModel(cut)
    with pytest.raises(ModelFileError, match="not found"):
        LlamaCppModel(tmp_path / "nope.gguf")


def test_duplicate_vocabulary_entry_is_refused_before_llama_cpp_aborts(models_dir):
    tokens = tiny_vocab()
    tokens[300] = tokens[301]
    with pytest.raises(ModelFileError, match="appears twice"):
        LlamaCppModel(write_tiny_gguf(models_dir / "dup.gguf", tokens=tokens))

"""Both draft lists offer the same choices, worded the same way: prompt lookup first, ⚠ with the
reason on a draft that cannot speed the main model up, ★ where the size guide recommends one,
≈ on a draft with another tokenizer."""

from __future__ import annotations

from app.chat.draft_choices import draft_choices
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.compat_index import DraftOption, DraftReport
from app.library.entry import ModelEntry


def entry(key: str, size: int, params: int = 10**9) -> ModelEntry:
    return ModelEntry(key, key, "llama.cpp", "llama", params, "Q4_K_M", size, 4096, f"/m/{key}.gguf", {})


def report() -> DraftReport:
    main = entry("main", 8 * 2**30, 8 * 10**9)
    return DraftReport(
        main,
        [
            DraftOption(entry("small", 2**30), True, "recommended"),
            DraftOption(entry("huge", 9 * 2**30), False, ""),
            DraftOption(entry("other", 2**29), False, "", translated=True, share=0.5, reason="ids differ"),
        ],
        [(entry("bert", 2**28), "vocabulary differs")],
    )


def test_every_choice_says_what_it_is():
    choices = draft_choices(report(), labels={"small": "Small · 1B"})
    texts = {c.key: c.text for c in choices.choices}
    assert [c.key for c in choices.choices] == [PROMPT_LOOKUP_KEY, "small", "huge", "other"]
    assert texts == {
        PROMPT_LOOKUP_KEY: PROMPT_LOOKUP_NAME,
        "small": "★ Small · 1B",
        "huge": "⚠ huge · 1B · Q4_K_M",
        "other": "≈ other · 1B · Q4_K_M",
    }
    tips = {c.key: c.tooltip for c in choices.choices}
    assert "⚠ larger than the main model" in tips["huge"]
    assert "Drafts through translation" in tips["other"]
    assert choices.found
    assert choices.offers("small")
    assert choices.offers("")
    assert not choices.offers("bert")
    assert choices.incompatible() == [("bert", "vocabulary differs")]


def test_a_draft_measured_no_faster_is_warned_whatever_its_size():
    measured = {"small": "measured 0.98x without a draft: no faster here", PROMPT_LOOKUP_KEY: "measured 0.9x"}
    by_key = {c.key: c for c in draft_choices(report(), measured=measured).choices}
    assert by_key["small"].text.startswith("⚠ ")
    assert by_key["small"].warning.startswith("measured 0.98x")
    assert by_key[PROMPT_LOOKUP_KEY].text == f"⚠ {PROMPT_LOOKUP_NAME}"
    assert by_key[PROMPT_LOOKUP_KEY].tooltip == "⚠ measured 0.9x"

"""Which models the chat runs on, and how they are named (issue 15, items 3, 6, 7, 8, 12, 13),
on the real window and real tiny models."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics

from app.chat.store import ChatStore
from app.core import model_settings
from app.library.app_state import AppState
from app.library.paths import models_dir
from app.runtime.advisor import NO_DRAFT, Advice, AdviceRecords, AdvisorResult, AdvisorStep, recommend
from app.ui.models import advisor_dialog
from tests.model_factory import write_tiny_gguf
from tests.ui.window_helpers import WAIT, choose_draft, load, open_window, send


@pytest.fixture
def window(qtbot, library_models):
    w = open_window(qtbot)
    yield w
    w.shutdown()


def combo_items(combo) -> list[tuple[str, str, str]]:
    return [
        (combo.itemText(i), combo.itemData(i), str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""))
        for i in range(combo.count())
    ]


def choose_default_draft(qtbot, w, main: str, draft: str | None) -> None:
    """My Models: select the model, wait for its drafts, pick the default draft."""
    w.nav.setCurrentRow(1)
    w.models.select(main)
    combo = w.models.draft_combo
    qtbot.waitUntil(lambda: combo.isEnabled() and combo.count() > 2, timeout=WAIT)
    combo.setCurrentIndex(combo.findData(draft or ""))
    w.nav.setCurrentRow(0)


# --- 3. the default draft from My Models applies to a new chat -------------------------------------
def test_the_default_draft_from_my_models_applies_to_a_new_chat(qtbot, window, library_models):
    w = window
    main, twin = library_models["main"], library_models["twin"]
    load(qtbot, w, main)
    send(qtbot, w, "a chat without a draft")
    choose_default_draft(qtbot, w, main, twin)
    assert w.defaults.get(main)["draft_model"] == twin
    assert w.chat.sidebar.selected_draft() == ""  # the chat that ran without one keeps that
    w.menu_actions["new_chat"].trigger()
    assert w.chat.sidebar.selected_draft() == twin
    qtbot.waitUntil(lambda: w.draft_key == twin, timeout=WAIT)
    assert "main + draft" in w.chat.pair_detail.text()


def test_a_fresh_chat_takes_a_default_draft_set_while_it_is_open(qtbot, window, library_models):
    w = window
    load(qtbot, w, library_models["main"])
    choose_default_draft(qtbot, w, library_models["main"], library_models["noisy"])
    qtbot.waitUntil(lambda: w.draft_key == library_models["noisy"], timeout=WAIT)


# --- 6. the last model and draft are remembered; each conversation remembers its own -------------
def test_the_last_pair_is_loaded_again_at_start_and_the_status_says_so(qtbot, library_models, monkeypatch):
    main, twin = library_models["main"], library_models["twin"]
    first = open_window(qtbot)
    load(qtbot, first, main)
    choose_draft(qtbot, first, twin)
    send(qtbot, first, "remember the pair")
    conv = first.store.conversation(first.chat.conversation_id)
    assert (conv.model_key, conv.draft_key) == (main, twin)  # no longer NULL
    assert conv.settings
    assert conv.settings["max_tokens"] == 24
    first.shutdown()
    monkeypatch.setattr("app.ui.main_window.ensure_bundled_model", lambda report=None: None)
    again = open_window(qtbot, auto_load=True, store=ChatStore())
    qtbot.waitUntil(lambda: again.loaded_key == main and again.draft_key == twin, timeout=WAIT)
    assert "as when you last closed Specula" in again.status.text()
    assert "main" in again.status.text()
    assert again.chat.sidebar.values()["max_tokens"] == 24  # the conversation's own settings
    again.shutdown()


def test_a_last_model_that_is_gone_is_said_so(qtbot, library_models, monkeypatch):
    AppState().remember_pair("gone/model.gguf", "")
    monkeypatch.setattr("app.ui.main_window.ensure_bundled_model", lambda report=None: None)
    w = open_window(qtbot, auto_load=True)
    qtbot.waitUntil(lambda: bool(w.loaded_key), timeout=WAIT)
    assert "gone/model.gguf (used last time) is no longer in the library" in w.status.text()
    w.shutdown()


def test_reopening_a_conversation_offers_its_models(qtbot, window, library_models):
    w = window
    main, twin, noisy = library_models["main"], library_models["twin"], library_models["noisy"]
    load(qtbot, w, main)
    choose_draft(qtbot, w, twin)
    send(qtbot, w, "made on main + twin")
    cid = w.chat.conversation_id
    w.chat.new_conversation()
    load(qtbot, w, noisy)
    w.chat.open_conversation(cid)
    hint = w.chat.setup_hint
    assert hint.isVisibleTo(w)
    assert "This conversation used" in hint.label.text()
    with qtbot.waitSignal(w.draftReady, timeout=WAIT, check_params_cb=lambda k: k == twin):
        hint.buttons["load"].click()
    assert w.loaded_key == main
    assert w.draft_key == twin
    assert not hint.isVisibleTo(w)
    assert "as this conversation used" in w.status.text()


# --- 7. the status line after File > Rescan models ----------------------------------------------------
def test_the_status_comes_back_after_a_rescan(qtbot, window, library_models):
    w = window
    load(qtbot, w, library_models["main"])
    loaded = w.status.text()
    assert loaded.startswith("Loaded")
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        w.menu_actions["rescan"].trigger()
        assert w.status.text() == "Looking for models..."
    assert w.status.text() == loaded


# --- 8. defaults, never a spin box's minimum, when nothing is loaded or selected ---------------------
def test_no_wrong_values_with_nothing_loaded_or_selected(qtbot, window, library_models):
    w = window
    defaults = model_settings.defaults()
    shown = w.chat.sidebar.values()
    for name in ("temperature", "top_p", "repeat_penalty", "max_tokens", "context_length"):
        assert shown[name] == defaults[name], name
    w.nav.setCurrentRow(1)
    assert w.models.selected_key() is None
    assert not w.models.editor.isEnabled()
    for form in w.models.forms:
        for name, value in form.values().items():
            if name in defaults and defaults[name] is not None:
                assert value == defaults[name], name
    w.load_key(library_models["main"])  # while it loads, the values stay sensible
    for name in ("temperature", "top_p", "max_tokens"):
        assert w.chat.sidebar.values()[name] == defaults[name]
    qtbot.waitUntil(lambda: bool(w.loaded_key), timeout=WAIT)


# --- 12. labels that tell models apart, the path on hover; warnings on drafts that cannot help ------
@pytest.fixture
def lookalikes(library_models):
    """Another copy of the main model in another folder: the same name, size and quantization."""
    other = models_dir() / "elsewhere" / "tiny"
    other.mkdir(parents=True)
    shutil.copy(models_dir() / "test" / "tiny" / "main.gguf", other / "main.gguf")
    write_tiny_gguf(models_dir() / "test" / "tiny" / "big.gguf", seed=0, n_embd=128, name="big")
    return {**library_models, "copy": "elsewhere/tiny/main.gguf", "big": "test/tiny/big.gguf"}


def test_models_that_read_alike_are_told_apart_everywhere(qtbot, lookalikes):
    w = open_window(qtbot)
    picker = [w.model_combo.itemText(i) for i in range(w.model_combo.count())]
    assert len(picker) == len(set(picker))
    i = w.model_combo.findData(lookalikes["copy"])
    assert "elsewhere" in w.model_combo.itemText(i)
    assert "elsewhere/tiny/main.gguf" in str(w.model_combo.itemData(i, Qt.ItemDataRole.ToolTipRole))
    load(qtbot, w, lookalikes["main"])
    drafts = combo_items(w.chat.sidebar.draft_combo)
    texts = [t for t, _k, _tip in drafts]
    assert len(texts) == len(set(texts))
    by_key = {k: (t, tip) for t, k, tip in drafts}
    assert by_key[lookalikes["copy"]][1].startswith("~") or "main.gguf" in by_key[lookalikes["copy"]][1]
    big_text, big_tip = by_key[lookalikes["big"]]
    assert big_text.startswith("⚠")
    assert "larger than the main model" in big_tip
    choose_default_draft(qtbot, w, lookalikes["main"], None)
    defaults = combo_items(w.models.draft_combo)
    texts = [t for t, _k, _tip in defaults]
    assert len(texts) == len(set(texts))
    assert next(t for t, k, _ in defaults if k == lookalikes["big"]).startswith("⚠")
    w.shutdown()


# --- 13. the advisor: full names, a chart that fits, "Done", No draft within the noise --------------
def result(key, name, tps, acceptance, speedup, noise=0.08):
    return AdvisorResult(key, name, tps, acceptance, speedup, 0.0 if key == NO_DRAFT else noise)


def test_the_advisor_recommends_no_draft_when_no_gain_exceeds_the_noise():
    base = result(NO_DRAFT, "No draft", 10.0, None, 1.0)
    noise_only = result("d1", "useless", 10.7, 0.0, 1.07)  # 0% accepted: "faster" is noise
    within = result("d2", "close", 10.5, 0.4, 1.05)
    assert recommend([base, noise_only, within]) is None
    good = result("d3", "good", 13.0, 0.7, 1.3)
    assert recommend([base, noise_only, within, good]) is good
    advice = Advice([good, noise_only, within, base], None, noise=0.08)
    assert advice.summary.startswith("Recommended: No draft")
    assert "±8%" in advice.summary
    assert set(advice.no_faster()) == {"d1", "d2"}  # d3 measured faster, whatever was recommended
    assert set(Advice([good, base], good, noise=0.08).no_faster()) == set()


def test_the_advisor_dialog_shows_full_names_says_done_and_saves_no_draft(
    qtbot, window, library_models, monkeypatch
):
    w = window
    main, twin = library_models["main"], library_models["twin"]
    w.defaults.update(main, {"draft_model": twin})
    long_name = "A draft with a long name that the old chart cut at twenty-eight characters"
    results = [
        result(NO_DRAFT, "No draft", 20.0, None, 1.0),
        result(twin, long_name, 20.8, 0.0, 1.04, noise=0.05),
    ]
    monkeypatch.setattr(advisor_dialog, "library_candidates", lambda runtime, key: [])
    advice = Advice(results, recommend(results), noise=0.05)
    monkeypatch.setattr(advisor_dialog, "advise", lambda *a, **k: advice)
    dialog = w.open_advisor(main)
    qtbot.waitUntil(lambda: dialog.title.text().startswith(("Done", "The advisor")), timeout=WAIT)
    assert dialog.title.text().startswith("Done"), dialog.summary.text()
    assert dialog.title.text().startswith("Done")
    pix = dialog.chart.pixmap()
    assert pix.width() > QFontMetrics(dialog.font()).horizontalAdvance(long_name)
    assert dialog.chart.minimumWidth() >= pix.width()  # laid out whole, not clipped
    assert "Recommended: No draft" in dialog.summary.text()
    assert dialog.save_button.text() == "Save “No draft” as default"
    dialog.save_button.click()
    assert not w.defaults.get(main).get("draft_model")
    assert twin in AdviceRecords().no_faster(main)  # remembered for the draft lists
    dialog.close()
    load(qtbot, w, main)
    text, _key, tip = next(x for x in combo_items(w.chat.sidebar.draft_combo) if x[1] == twin)
    assert text.startswith("⚠")
    assert "no faster" in tip


def test_the_advisor_chart_shows_each_drafts_noise_band():
    """A speed-up the advice calls noise is never charted without the band it sits in."""
    within = [result(NO_DRAFT, "No draft", 10.0, None, 1.0), result("d", "draft", 5.0, 0.5, 0.5, noise=0.6)]
    bare = [within[0], result("d", "draft", 5.0, 0.5, 0.5, noise=0.0)]
    assert within[1].within_noise
    assert "within noise" in advisor_dialog.value_text(within[1])
    assert "±60%" in advisor_dialog.value_text(within[1])
    banded = advisor_dialog.advice_chart(Advice(within, None, noise=0.6)).toImage()
    plain = advisor_dialog.advice_chart(Advice(bare, None)).toImage()
    row = banded.height() // 2
    # past the end of the draft's bar (0.5x), within its band (1x +-60%), above the bar
    differs = [
        x for x in range(banded.width()) if banded.pixelColor(x, row + 2) != plain.pixelColor(x, row + 2)
    ]
    assert len(differs) > 50  # the band is drawn across the 1x line


def test_the_advisor_says_what_it_measures_and_cancel_answers_at_once(
    qtbot, window, library_models, monkeypatch
):
    w = window
    main = library_models["main"]
    monkeypatch.setattr(advisor_dialog, "library_candidates", lambda runtime, key: [])

    def slow_advice(*_a, progress, cancel, **_k):
        progress(AdvisorStep(0, 7, "No draft on code (the speed to beat, measured between drafts)"))
        progress(AdvisorStep(1, 7, "twin on code"))
        cancel.wait(WAIT / 1000)  # until Cancel (never hangs)
        return Advice([], None, cancelled=True)

    monkeypatch.setattr(advisor_dialog, "advise", slow_advice)
    dialog = w.open_advisor(main)
    qtbot.waitUntil(lambda: "twin on code" in dialog.now.text(), timeout=WAIT)
    assert "run 2 of 7" in dialog.now.text()
    assert "left" in dialog.now.text()  # the time left, from the pace so far
    dialog.stop_button.click()
    assert dialog.stop_button.text() == "Stopping..."
    assert not dialog.stop_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.title.text().startswith("Stopped"), timeout=WAIT)
    dialog.close()

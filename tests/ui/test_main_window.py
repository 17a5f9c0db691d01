"""The whole window on real tiny models: loading, the draft dropdown, streaming, stop,
persistence, switching the draft mid-reply, errors; no thread is left running."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QThread

from app.chat.draft_choices import draft_choices
from app.chat.store import ChatStore
from app.core.events import TokenOrigin
from app.library.compat_index import DraftReport
from app.ui.chat.sidebar import IDENTIFYING, NONE_FOUND, SELECT_DRAFT
from app.ui.main_window import MainWindow

WAIT = 30_000


@pytest.fixture
def window(qtbot, library_models):
    w = MainWindow(auto_load=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        pass
    yield w
    w.shutdown()


def load(qtbot, w: MainWindow, key: str) -> None:
    with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
        w.load_key(key)


def choose_draft(qtbot, w: MainWindow, key: str) -> None:
    with qtbot.waitSignal(w.draftReady, timeout=WAIT, check_params_cb=lambda k: k == key):
        w.chat.sidebar.select_draft(key)


def send(qtbot, w: MainWindow, text: str, **settings) -> None:
    w.chat.sidebar.set_values(
        {"temperature": 0.0, "repeat_penalty": 1.0, "max_tokens": 24, "draft_p_min": 0.0, **settings}
    )
    w.chat.prompt.setPlainText(text)
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.chat.commands.send()


def test_draft_dropdown_lists_exact_matches_then_translated_drafts(qtbot, window, library_models):
    with qtbot.waitSignal(window.modelReady, timeout=WAIT):
        window.load_key(library_models["main"])
    assert window.chat.sidebar.draft_combo.itemText(0) == IDENTIFYING
    assert not window.chat.sidebar.draft_combo.isEnabled()
    with qtbot.waitSignal(window.draftReportReady, timeout=WAIT):
        pass
    combo = window.chat.sidebar.draft_combo
    items = [combo.itemData(i) for i in range(combo.count())]
    assert combo.itemText(0) == SELECT_DRAFT
    # the exact matches, then the draft with another tokenizer, badged, its reason on hover
    assert items[:2] == ["", "prompt-lookup"]
    assert items[-1] == library_models["other"]
    assert set(items[2:4]) == {library_models["noisy"], library_models["twin"]}
    other_text = combo.itemText(combo.count() - 1)
    assert "\u2248 " in other_text
    assert all("\u2248" not in combo.itemText(i) for i in range(4))
    tip = combo.itemData(combo.count() - 1, Qt.ItemDataRole.ToolTipRole)
    assert "Drafts through translation" in tip
    assert "vocabulary sizes differ" in tip
    assert not window.chat.sidebar.draft_form.isEnabled()  # disabled until a draft is chosen
    assert window.chat.sidebar.incompatible_reasons() == []  # every GGUF can draft now


def test_a_model_without_compatible_drafts_says_so(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    entry = window.library.entries[library_models["main"]]
    window.chat.sidebar.show_drafts(draft_choices(DraftReport(entry)))  # no other model in the library
    assert window.chat.sidebar.draft_combo.itemText(0) == NONE_FOUND


def test_reply_streams_with_green_exactly_on_accepted_draft_tokens(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    send(qtbot, window, "the cat")
    reply = window.chat.view.messages[-1]
    assert reply.role == "assistant"
    assert reply.text
    expected = "".join(
        reply.text[sum(n for n, _ in reply.origins[:i]) :][:n]
        for i, (n, o) in enumerate(reply.origins)
        if o == TokenOrigin.DRAFT.value
    )
    assert expected, (reply.stats, reply.origins)
    assert window.chat.view.draft_text() == expected
    assert reply.stats
    assert reply.stats.generation.accepted_draft_tokens_count > 0
    assert "Accepted" in window.chat.view.plain_text()


def test_stop_keeps_the_partial_reply_and_says_stopped(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    window.chat.sidebar.set_values({"max_tokens": 100000, "temperature": 0.0})
    window.chat.prompt.setPlainText("hello")
    with qtbot.waitSignal(window.chat.replyFinished, timeout=WAIT):
        window.chat.commands.send()
        qtbot.waitUntil(
            lambda: len(window.chat.view.streaming.text if window.chat.view.streaming else "") > 0,
            timeout=WAIT,
        )
        qtbot.keyClick(window.chat.prompt, "Escape") if False else window.chat.stop()
    reply = window.chat.view.messages[-1]
    assert reply.stats.generation.stop_reason == "cancelled"
    assert reply.text
    stored = window.store.messages(window.chat.conversation_id)
    assert stored[-1].stats["stop_reason"] == "cancelled"
    assert stored[-1].content == reply.text


def test_switching_the_draft_mid_reply_applies_to_the_next_reply(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    window.chat.sidebar.set_values({"max_tokens": 120, "temperature": 0.0, "draft_p_min": 0.0})
    window.chat.prompt.setPlainText("the dog")
    state = window.model_state
    with qtbot.waitSignal(window.chat.replyFinished, timeout=WAIT):
        window.chat.commands.send()
        window.chat.sidebar.select_draft(library_models["noisy"])  # while streaming
        # the top of the chat is what the next reply runs on, and says so while this one runs
        assert state.name(library_models["noisy"]) in window.chat.pair_label.text()
        assert window.chat.pair_detail.text() == "main + draft, from the next reply"
    assert window.chat.view.messages[-1].stats.generation.draft_model == "twin.gguf"
    assert window.chat.view.messages[-1].stats.draft_name == state.name(library_models["twin"])
    # the engine thread switched; the window hears it once its news arrives
    qtbot.waitUntil(lambda: window.model_state.draft_key == library_models["noisy"], timeout=WAIT)
    assert window.chat.pair_detail.text() == "main + draft"
    send(qtbot, window, "again")
    assert window.chat.view.messages[-1].stats, window.chat.banner.text()
    assert window.chat.view.messages[-1].stats.generation.draft_model == "noisy.gguf"


def test_a_reply_names_the_draft_the_engine_ran_it_on(qtbot, window, library_models):
    """A draft chosen just before sending is switched to before the reply: its stats, its card
    and its conversation name that draft, not the one in use when Send was pressed."""
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    window.chat.sidebar.set_values({"max_tokens": 8, "temperature": 0.0, "draft_p_min": 0.0})
    window.chat.sidebar.select_draft(library_models["noisy"])
    window.chat.prompt.setPlainText("the dog")
    with qtbot.waitSignal(window.chat.replyFinished, timeout=WAIT):
        window.chat.commands.send()  # before the engine thread has said it switched
    stats = window.chat.view.messages[-1].stats
    assert stats.generation.draft_model == "noisy.gguf"
    assert stats.draft_name == window.model_state.name(library_models["noisy"])
    conv = window.store.conversation(window.chat.conversation_id)
    assert conv.draft_key == library_models["noisy"]


def test_conversation_and_colours_survive_a_restart(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    send(qtbot, window, "remember me")
    green = window.chat.view.draft_text()
    conv = window.chat.conversation_id
    window.shutdown()
    again = MainWindow(auto_load=False, store=ChatStore())
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.libraryReady, timeout=WAIT):
        pass
    assert again.chat.conversation_id == conv
    assert [m.role for m in again.chat.view.messages] == ["user", "assistant"]
    assert again.chat.view.draft_text() == green
    assert green
    assert again.chat.view.messages[-1].has_rounds  # each character's round came back too
    again.shutdown()


def test_continue_extends_the_reply_and_keeps_visualization(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    send(qtbot, window, "the cat")
    first = window.chat.view.messages[-1].text
    with qtbot.waitSignal(window.chat.replyFinished, timeout=WAIT):
        window.chat.commands.continue_reply()
    reply = window.chat.view.messages[-1]
    assert reply.text.startswith(first)
    assert len(reply.text) > len(first)
    assert len([m for m in window.chat.view.messages if m.role == "assistant"]) == 1
    stored = window.store.messages(window.chat.conversation_id)
    assert stored[-1].content == reply.text
    assert stored[-1].origins == reply.origins
    assert window.chat.view.draft_text()


def test_broken_files_are_listed_and_a_failed_load_is_shown_not_raised(qtbot, window, library_models):
    from app.library.paths import models_dir

    folder = models_dir() / "test" / "tiny"
    (folder / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 64)
    with qtbot.waitSignal(window.libraryReady, timeout=WAIT):
        window.refresh_library()
    table = window.models.table
    rows = {table.item(r, 6).text(): table.item(r, 7).text() for r in range(table.rowCount())}
    broken = next(v for k, v in rows.items() if k.endswith("broken.gguf"))
    assert "broken.gguf" in broken
    # A file that changes after the scan and no longer loads: a message in the window.
    (folder / "main.gguf").write_bytes(b"GGUF" + b"\1" * 64)
    window.load_key(library_models["main"])
    qtbot.waitUntil(lambda: not window.chat.banner.isHidden(), timeout=WAIT)
    assert "Could not load main.gguf" in window.chat.banner.text()
    assert not window.chat.session.models.loaded_key


def test_closing_mid_reply_saves_the_partial_reply(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    window.chat.sidebar.set_values({"max_tokens": 100000})
    window.chat.prompt.setPlainText("long")
    window.chat.commands.send()
    qtbot.waitUntil(
        lambda: bool(window.chat.view.streaming and window.chat.view.streaming.text), timeout=WAIT
    )
    conv = window.chat.conversation_id
    window.close()
    stored = ChatStore().messages(conv)
    assert stored[-1].role == "assistant"
    assert stored[-1].stats["stop_reason"] == "cancelled"


def test_an_mlx_model_loads_and_shows_the_mlx_draft_setting(qtbot, window):
    pytest.importorskip("mlx_lm")
    from app.library.paths import models_dir
    from tests.mlx_factory import write_mlx_model

    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx", seed=0)
    write_mlx_model(models_dir() / "mlx-community" / "tiny-mlx-draft", seed=0, hidden=32)
    with qtbot.waitSignal(window.libraryReady, timeout=WAIT):
        window.refresh_library()
    load(qtbot, window, "mlx-community/tiny-mlx")
    sidebar = window.chat.sidebar
    assert sidebar.engine == "MLX"
    assert not sidebar.draft_form.layout_.isRowVisible(sidebar.draft_form.editors["draft_p_min"])
    assert sidebar.draft_form.layout_.isRowVisible(sidebar.draft_form.editors["mlx_draft_tokens"])
    combo_keys = [sidebar.draft_combo.itemData(i) for i in range(sidebar.draft_combo.count())]
    assert "mlx-community/tiny-mlx-draft" in combo_keys
    assert "test/tiny/twin.gguf" not in combo_keys
    choose_draft(qtbot, window, "mlx-community/tiny-mlx-draft")
    send(qtbot, window, "the cat", mlx_draft_tokens=2)
    reply = window.chat.view.messages[-1]
    assert reply.stats
    assert reply.stats.generation.draft_model == "tiny-mlx-draft"


def test_draft_advisor_runs_off_the_gui_thread_and_saves_its_pick(qtbot, window, library_models, monkeypatch):
    import app.runtime.advisor as advisor

    monkeypatch.setattr(advisor, "MIN_GAIN", 0.0)  # on tiny models any draft may "win"; we test the flow
    dialog = window.open_advisor(library_models["main"])
    assert dialog is not None
    with qtbot.waitSignal(dialog.task.succeeded, timeout=3 * WAIT):
        pass
    assert dialog.advice is not None
    assert not dialog.chart.pixmap().isNull()
    assert dialog.save_button.isEnabled()
    assert dialog.title.text().startswith("Done")
    dialog.save_button.click()
    picked = dialog.advice.recommended.key if dialog.advice.recommended else None  # None: No draft
    assert window.defaults.get(library_models["main"]).get("draft_model") == picked
    dialog.close()


def test_every_model_offers_prompt_lookup_in_the_dropdown(qtbot, window, library_models):
    load(qtbot, window, library_models["other"])
    combo = window.chat.sidebar.draft_combo
    assert combo.itemText(0) == SELECT_DRAFT  # no exact match: every draft is a translated one
    assert all("\u2248" in combo.itemText(i) for i in range(2, combo.count()))
    assert combo.count() == 5
    assert combo.findData("prompt-lookup") > 0
    choose_draft(qtbot, window, "prompt-lookup")
    assert window.chat.pair_detail.text() == "no draft model"  # never "main + draft"
    assert "Prompt lookup" in window.chat.pair_label.text()
    send(qtbot, window, "the the the the")
    assert window.chat.view.messages[-1].stats.generation.draft_model == "Prompt lookup (no draft model)"


def test_a_translated_draft_streams_the_main_models_own_reply(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    send(qtbot, window, "the cat")
    plain = window.chat.view.messages[-1].text
    choose_draft(qtbot, window, library_models["other"])
    window.chat.new_conversation()
    # fixed draft sizes: Auto may rightly pause a poor draft on a busy machine
    window.chat.sidebar.set_values({"draft_auto": False, "draft_max": 4, "draft_p_min": 0.0})
    send(qtbot, window, "the cat")
    reply = window.chat.view.messages[-1]
    assert reply.text == plain
    assert reply.stats.generation.draft_model == "other.gguf"
    assert reply.stats.generation.total_draft_tokens_count > 0, reply.stats


def test_one_click_in_the_picker_loads_and_the_pair_is_shown(qtbot, window, library_models):
    from app.ui.models.picker import DETAIL_ROLE, STATE_ROLE

    picker = window.model_combo
    index = picker.findData(library_models["main"])
    assert "test/tiny" in picker.itemData(index, DETAIL_ROLE)  # size and folder in the list
    with qtbot.waitSignal(window.draftReportReady, timeout=WAIT):
        picker.activated.emit(index)  # what a click on the item does
    assert window.loaded_key == library_models["main"]
    assert picker.itemData(index, STATE_ROLE) == "Loaded"
    choose_draft(qtbot, window, library_models["twin"])
    assert picker.itemData(picker.findData(library_models["twin"]), STATE_ROLE) == "Draft"
    assert window.chat.pair_detail.text() == "main + draft"
    assert " + " in window.chat.pair_label.text()
    send(qtbot, window, "the cat")
    reply = window.chat.view.messages[-1]
    assert reply.stats.draft_name in window.chat.pair_label.text()
    assert reply.stats.model_name == window.chat.view.cards[-1].header.text()


def test_the_theme_can_be_chosen_in_the_view_menu(qtbot, window):
    from app.ui.theme.colours import DARK, LIGHT

    window.theme_actions["dark"].trigger()
    assert window.themes.theme is DARK
    assert window.chat.view.render_style.theme is DARK
    window.theme_actions["light"].trigger()
    assert window.chat.view.render_style.theme is LIGHT


def test_news_from_the_engine_thread_after_closing_starts_no_thread(qtbot, library_models, monkeypatch):
    """A load the engine thread finished as the window closed reaches the window afterwards: it
    must not start work (a thread left running when the app quits)."""
    import threading

    from tests.conftest import threads_left
    from tests.ui.window_helpers import open_window

    w = open_window(qtbot)
    load(qtbot, w, library_models["main"])
    w.shutdown()
    release = threading.Event()
    monkeypatch.setattr(w.index, "drafts_for", lambda key: release.wait(30))
    w.worker.modelLoaded.emit(library_models["main"], "main")  # queued before the thread stopped
    try:
        assert threads_left() == []
    finally:
        release.set()
        for task in w.findChildren(QThread):
            task.wait(30_000)

"""The chat never loses its place (issue 15, items 1, 4, 5, 9, 10), on the real window and real
tiny models: every action targets the conversation shown, a reply commits where it began,
stats belong to the reply, and nothing is replaced before its replacement is committed."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QInputDialog

from app.chat.message_model import ROUNDS_KEY
from app.chat.store import ChatStore
from app.core.events import GenerationResult
from app.ui.chat.transcript.card import NEXT, PREVIOUS
from tests.ui.window_helpers import (
    WAIT,
    choose_draft,
    click_conversation,
    load,
    open_window,
    send,
    settle_draft,
    start_long_reply,
    stop,
    titles,
)


@pytest.fixture
def window(qtbot, library_models):
    w = open_window(qtbot)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


@pytest.fixture
def drafted(qtbot, window, library_models):
    load(qtbot, window, library_models["main"])
    choose_draft(qtbot, window, library_models["twin"])
    return window


def store_of(w) -> ChatStore:
    return w.store


# --- 1. a message never goes to the wrong conversation ---------------------------------------------
def test_switching_during_a_reply_shows_the_other_conversation_and_the_reply_finishes_in_its_own(
    qtbot, drafted, monkeypatch
):
    w = drafted
    send(qtbot, w, "chat b")  # B exists, with one exchange
    b = w.chat.conversation_id
    w.chat.new_conversation()
    a = w.chat.conversation_id
    start_long_reply(qtbot, w, "chat a")
    click_conversation(qtbot, w, "chat b")  # while A's reply streams
    assert w.chat.conversation_id == b
    assert next(m.text for m in w.chat.view.messages) == "chat b"  # B is on screen, not A
    assert w.chat.flight_hint.isVisible()
    assert "chat a" in w.chat.flight_hint.label.text()
    assert not w.chat.send_button.isEnabled()
    assert "chat a" in w.chat.send_button.toolTip()
    grown = len(w.chat.flight.message.text)
    qtbot.waitUntil(lambda: len(w.chat.flight.message.text) > grown, timeout=WAIT)  # still growing
    click_conversation(qtbot, w, "chat a")  # back: the reply is there, as far as it got
    assert w.chat.view.streaming is w.chat.flight.message
    assert w.chat.view.messages[-1].text
    click_conversation(qtbot, w, "chat b")
    stop(qtbot, w)
    stored_a = w.store.messages(a)
    assert [m.role for m in stored_a] == ["user", "assistant"]
    assert stored_a[-1].content
    assert w.chat.conversation_id == b
    assert len(w.store.messages(b)) == 2
    # everything now targets B, the conversation shown
    settle_draft(qtbot, w)
    send(qtbot, w, "second in b")
    assert [m.content for m in w.store.messages(b)][2] == "second in b"
    assert len(w.store.messages(a)) == 2
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("renamed b", True))
    w.chat.rename_button.click()
    assert w.store.conversation(b).title == "renamed b"
    assert w.store.conversation(a).title == "chat a"
    assert "renamed b" in titles(w)


def test_clicking_the_conversation_shown_again_keeps_it(qtbot, drafted):
    w = drafted
    send(qtbot, w, "only one")
    cid = w.chat.conversation_id
    click_conversation(qtbot, w, "only one")
    assert w.chat.conversation_id == cid
    assert len(w.chat.view.messages) == 2


# --- 4. Continue accumulates the reply's stats ----------------------------------------------------------
def test_continue_adds_to_the_reply_stats_and_names_every_draft(qtbot, drafted, library_models):
    w = drafted
    send(qtbot, w, "the cat")
    first = dict(w.store.messages(w.chat.conversation_id)[-1].stats)
    assert first["accepted_draft_tokens_count"] > 0
    choose_draft(qtbot, w, library_models["noisy"])
    w.chat.sidebar.set_values({"max_tokens": 16})
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.chat.view.cards[-1].action_buttons["continue"].click()
    stats = w.store.messages(w.chat.conversation_id)[-1].stats
    assert stats["predicted_tokens_count"] > first["predicted_tokens_count"]
    assert stats["accepted_draft_tokens_count"] >= first["accepted_draft_tokens_count"]
    assert stats["total_draft_tokens_count"] >= first["total_draft_tokens_count"]
    assert stats["rounds"][: len(first["rounds"])] == first["rounds"]
    assert stats["generation_time"] > first["generation_time"]
    assert stats["time_to_first_token"] == first["time_to_first_token"]
    assert len(stats["drafts_used"]) == 2
    assert stats[ROUNDS_KEY]  # the view's per-character rounds still travel with the reply
    rounds = [r for _, r in stats[ROUNDS_KEY] if r is not None]
    assert rounds == sorted(rounds)  # the continuation's rounds come after the reply's
    card = w.chat.view.cards[-1]
    assert f"{stats['predicted_tokens_count']} tokens" in card.stats_label.text()
    assert "Drafts:" in card.stats_label.text()
    card.details_button.click()
    assert card.details is not None
    assert card.details.isVisible()


# --- 5. a reply saved on close keeps its stats, and shows them after a restart -------------------------
def test_a_reply_saved_on_close_keeps_its_stats_and_chart(qtbot, drafted):
    w = drafted
    start_long_reply(qtbot, w, "long")
    qtbot.waitUntil(lambda: w.chat.flight.live.tokens > 8, timeout=WAIT)
    conv = w.chat.conversation_id
    w.close()
    stored = ChatStore().messages(conv)[-1]
    assert stored.role == "assistant"
    assert stored.content
    s = stored.stats
    assert s["stop_reason"] == "cancelled"
    assert s["predicted_tokens_count"] > 0
    assert s["tokens_per_second"] > 0
    assert s["draft_model"]
    assert s["rounds"]
    again = open_window(qtbot, store=ChatStore())
    card = again.chat.view.cards[-1]
    assert f"{s['predicted_tokens_count']} tokens" in card.stats_label.text()
    assert "0.0 tok/s" not in card.stats_label.text()
    assert card.details_button.isVisibleTo(card)
    card.details_button.click()
    assert card.details is not None
    again.shutdown()


def test_a_reply_cut_off_before_its_result_keeps_what_the_stream_measured(qtbot, drafted):
    w = drafted
    start_long_reply(qtbot, w, "cut")
    qtbot.waitUntil(lambda: w.chat.flight.live.tokens > 4, timeout=WAIT)
    tokens = w.chat.flight.live.tokens
    w.chat.save_partial()  # as the crash handler does: no result from the engine
    stored = w.store.messages(w.chat.conversation_id)[-1]
    assert stored.stats["predicted_tokens_count"] >= tokens
    assert stored.stats["stop_reason"] == "cancelled"
    w.worker.cancel.set()


# --- 9. buttons that cannot act are disabled and say why; feedback while the prompt is read -----------
def test_buttons_say_why_they_cannot_act(qtbot, window, library_models):
    w = window
    w.chat.prompt.setPlainText("hello")
    assert not w.chat.send_button.isEnabled()
    assert "Load a model first" in w.chat.send_button.toolTip()
    for name in ("regenerate", "continue", "edit_last", "stop"):
        action = w.menu_actions[name]
        assert not action.isEnabled(), name
        assert action.statusTip(), name
    load(qtbot, w, library_models["main"])
    assert w.chat.send_button.isEnabled()
    assert "no reply to regenerate" in w.menu_actions["regenerate"].statusTip()
    w.chat.prompt.clear()
    assert not w.chat.send_button.isEnabled()
    assert "Type a message" in w.chat.send_button.toolTip()
    send(qtbot, w, "hi")
    card = w.chat.view.cards[-1]
    assert card.action_buttons["regenerate"].isEnabled()
    assert w.menu_actions["regenerate"].isEnabled()
    w.eject_button.click()
    qtbot.waitUntil(lambda: not w.chat.session.models.loaded_key, timeout=WAIT)
    card = w.chat.view.cards[-1]
    for key in ("regenerate", "continue"):
        button = card.action_buttons[key]
        assert button.isVisible()
        assert not button.isEnabled()
        assert "Load a model" in button.toolTip()
    assert not w.chat.view.cards[0].action_buttons["edit"].isEnabled()


def test_the_reply_says_it_is_reading_the_conversation_before_the_first_token(qtbot, drafted):
    w = drafted
    w.chat.sidebar.set_values({"max_tokens": 8})
    w.chat.prompt.setPlainText("a question")
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.chat.send_button.click()
        assert "Reading the conversation" in w.chat.view.cards[-1].live.text()  # before any token
    assert w.chat.view.cards[-1].live.isHidden()


# --- 10. nothing is replaced before its replacement is committed; delete can be undone ----------------
def test_regenerate_keeps_the_reply_as_a_version_until_the_new_one_is_committed(qtbot, drafted):
    w = drafted
    send(qtbot, w, "the dog")
    old = w.store.messages(w.chat.conversation_id)[-1]
    w.chat.sidebar.set_values({"max_tokens": 100_000, "temperature": 1.0, "seed": 7})
    w.chat.view.cards[-1].action_buttons["regenerate"].click()
    qtbot.waitUntil(lambda: bool(w.chat.flight and w.chat.flight.message.text), timeout=WAIT)
    assert w.store.messages(w.chat.conversation_id)[-1].content == old.content  # still there
    stop(qtbot, w)
    shown = w.store.messages(w.chat.conversation_id)[-1]
    assert (shown.version, shown.versions) == (1, 2)
    assert shown.id == old.id
    card = w.chat.view.cards[-1]
    assert card.pager.isVisible()
    assert card.version_label.text().strip() == "2 / 2"
    card.previous_button.click()
    assert w.chat.view.messages[-1].text == old.content
    assert w.chat.view.cards[-1].version_label.text().strip() == "1 / 2"
    w.menu_actions["next_version"].trigger()
    assert w.chat.view.messages[-1].text == shown.content
    assert [v.content for v in w.store.versions(old.id)] == [old.content, shown.content]


def test_a_regenerate_that_brings_nothing_leaves_the_reply_alone(qtbot, drafted):
    w = drafted
    send(qtbot, w, "keep")
    old = w.chat.view.messages[-1].text
    w.chat.commands.regenerate()
    # as when the engine fails before a token
    w.chat.replies.on_failed(w.chat.session.reply.id, "the model went away")
    w.worker.cancel.set()
    qtbot.waitUntil(lambda: not w.chat.busy, timeout=WAIT)
    assert w.chat.view.messages[-1].text == old
    assert w.chat.view.cards[-1].pager.isHidden()
    assert w.store.messages(w.chat.conversation_id)[-1].versions == 1
    qtbot.wait(200)


def test_edit_last_edits_in_place_and_replaces_only_when_the_new_reply_commits(qtbot, drafted):
    w = drafted
    send(qtbot, w, "tpyo here")
    cid = w.chat.conversation_id
    before = [m.content for m in w.store.messages(cid)]
    w.chat.view.cards[0].action_buttons["edit"].click()
    card = w.chat.view.cards[0]
    assert card.editor is not None
    assert card.editor.isVisible()
    assert card.body.isHidden()
    assert card.editor.text.toPlainText() == "tpyo here"
    card.editor.text.setPlainText("typo here")
    w.chat.sidebar.set_values({"max_tokens": 100_000})
    card.editor.send_button.click()
    qtbot.waitUntil(lambda: bool(w.chat.flight and w.chat.flight.message.text), timeout=WAIT)
    assert [m.content for m in w.store.messages(cid)] == before  # nothing replaced yet
    assert w.chat.view.messages[0].text == "typo here"
    stop(qtbot, w)
    after = w.store.messages(cid)
    assert after[0].content == "typo here"
    assert len(after) == 2
    assert after[1].content != before[1]


def test_cancelling_an_edit_changes_nothing(qtbot, drafted):
    w = drafted
    send(qtbot, w, "as it was")
    w.menu_actions["edit_last"].trigger()
    editor = w.chat.view.cards[0].editor
    editor.text.setPlainText("something else")
    editor.cancel_button.click()
    assert w.chat.view.cards[0].editor is None
    assert w.chat.view.messages[0].text == "as it was"
    assert w.store.messages(w.chat.conversation_id)[0].content == "as it was"


def test_delete_conversation_can_be_undone(qtbot, drafted):
    w = drafted
    send(qtbot, w, "precious")
    cid = w.chat.conversation_id
    w.chat.delete_button.click()
    assert "precious" not in titles(w)
    assert w.chat.conversation_id != cid
    assert w.chat.undo_hint.isVisible()
    assert "precious" in w.chat.undo_hint.label.text()
    w.chat.undo_hint.buttons["undo"].click()
    assert w.chat.conversation_id == cid
    assert "precious" in titles(w)
    assert next(m.content for m in w.store.messages(cid)) == "precious"


def test_the_conversation_being_replied_to_cannot_be_deleted(qtbot, drafted):
    w = drafted
    start_long_reply(qtbot, w, "busy")
    assert not w.chat.delete_button.isEnabled()
    assert "stop it first" in w.chat.delete_button.toolTip()
    assert not w.menu_actions["delete_chat"].isEnabled()
    stop(qtbot, w)
    assert w.chat.delete_button.isEnabled()


def test_version_pager_keys_are_the_card_buttons(qtbot, drafted):
    """The card's ‹ › and the menu's Alt+Left / Alt+Right do the same."""
    w = drafted
    send(qtbot, w, "pages")
    with qtbot.waitSignal(w.chat.replyFinished, timeout=WAIT):
        w.menu_actions["regenerate"].trigger()
    got = []
    w.chat.view.actionRequested.connect(lambda key, m: got.append(key))
    w.chat.view.cards[-1].previous_button.click()
    w.chat.view.cards[-1].next_button.click()
    assert got == [PREVIOUS, NEXT]


def test_unsent_text_stays_with_its_conversation(qtbot, drafted):
    w = drafted
    send(qtbot, w, "first chat")
    first = w.chat.conversation_id
    w.chat.prompt.setPlainText("half-written for the first")
    w.chat.new_conversation()
    assert w.chat.prompt.toPlainText() == ""
    w.chat.open_conversation(first)
    assert w.chat.prompt.toPlainText() == "half-written for the first"


def test_a_result_for_no_reply_is_ignored(qtbot, window):
    from app.core.events import GenerationStats

    window.chat.replies.on_finished(0, GenerationResult("late", GenerationStats()))
    assert window.chat.view.messages == []

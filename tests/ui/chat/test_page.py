"""The Chat page without an engine: panels that fold when the window is small, the loaded
pair at the top, replies stored with their rounds and rejected drafts, reply actions."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication

from app.chat.message_model import REJECTED_KEY, ROUNDS_KEY
from app.chat.store import ChatStore
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult, GenerationStats
from app.library.preferences import Preferences
from app.ui.chat.page import CONVERSATIONS_FOLD_BELOW, SIDEBAR_FOLDS_BELOW, ChatPage


@pytest.fixture
def page(qtbot):
    store = ChatStore()
    p = ChatPage(store)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p
    store.close()


def resize(qtbot, page: ChatPage, width: int) -> None:
    page.resize(width, 700)
    qtbot.waitUntil(lambda: page.width() == width)


def test_side_panels_fold_when_narrow_sidebar_first_and_come_back(qtbot, page):
    assert page.sidebar.isVisible()
    assert page.conversations.isVisible()
    resize(qtbot, page, SIDEBAR_FOLDS_BELOW - 60)
    assert not page.sidebar.isVisible()
    assert page.conversations.isVisible()
    qtbot.waitUntil(lambda: page.view.width() > 600)  # the transcript keeps a readable width
    resize(qtbot, page, CONVERSATIONS_FOLD_BELOW - 60)
    assert not page.sidebar.isVisible()
    assert not page.conversations.isVisible()
    page.sidebar_toggle.click()  # the user can still open it
    assert page.sidebar.isVisible()
    resize(qtbot, page, 1300)
    assert page.sidebar.isVisible()
    assert page.conversations.isVisible()


def test_a_panel_the_user_closed_stays_closed_when_the_window_grows(qtbot, page):
    page.conversations_toggle.click()
    assert not page.conversations.isVisible()
    resize(qtbot, page, CONVERSATIONS_FOLD_BELOW - 60)
    resize(qtbot, page, 1300)
    assert not page.conversations.isVisible()
    assert page.sidebar.isVisible()


def test_the_loaded_pair_reads_main_plus_draft(page):
    page.set_model_pair("Gemma · F16", "Gemma · Q4_K_M")
    assert page.pair_label.text() == "Gemma · F16  +  Gemma · Q4_K_M"
    assert page.pair_detail.text() == "main + draft"
    page.set_model_pair("Gemma · F16", "")
    assert (page.pair_label.text(), page.pair_detail.text()) == ("Gemma · F16", "no draft")
    page.set_model_pair("", "")
    assert page.pair_label.text() == "No model loaded"


def test_a_reply_is_stored_with_names_rounds_and_rejected_drafts(qtbot, page):
    page.set_model_pair("Main · F16", "Draft · Q4", "main.gguf", "q4.gguf")
    requests = []
    page.generateRequested.connect(requests.append)
    page.prompt.setPlainText("hello")
    page.commands.send()
    assert requests
    assert page.busy
    assert not page.send_button.isVisible()
    assert page.stop_button.isVisible()
    reply = requests[0].reply_id
    assert reply == page.session.reply.id
    page.replies.on_tokens(
        reply, StreamBatch(pieces=[("Hi", "main", 0), (" you", "draft", 1), (" x", "rejected", 1)], tokens=2)
    )
    stats = GenerationStats(draft_model="q4.gguf", total_draft_tokens_count=2, accepted_draft_tokens_count=1)
    with qtbot.waitSignal(page.replyFinished):
        page.replies.on_finished(reply, GenerationResult("Hi you", stats))
    stored = page.store.messages(page.conversation_id)[-1]
    assert stored.content == "Hi you"
    assert stored.origins == [[2, "main"], [4, "draft"]]
    assert stored.stats["model_name"] == "Main · F16"
    assert stored.stats["draft_name"] == "Draft · Q4"
    assert stored.stats[ROUNDS_KEY] == [[2, 0], [4, 1]]
    assert stored.stats[REJECTED_KEY] == [[6, 1, " x"]]
    assert page.view.cards[-1].header.text() == "Main · F16"
    page.view.cards[-1].action_buttons["copy"].click()
    assert QGuiApplication.clipboard().text() == "Hi you"


def test_a_reply_is_named_by_the_pair_the_engine_thread_ran_it_on(qtbot, page):
    page.set_model_pair("Main · F16", "Draft · Q4", "main.gguf", "q4.gguf")
    page.session.models.names["other.gguf"] = "Other · Q8"
    requests = []
    page.generateRequested.connect(requests.append)
    page.prompt.setPlainText("hello")
    page.commands.send()
    reply = requests[0].reply_id
    page.replies.on_started(reply, "main.gguf", "other.gguf")  # the switch landed before it
    assert page.view.cards[-1].header.text() == "Main · F16"
    page.replies.on_tokens(reply, StreamBatch(pieces=[("Hi", "main", 0)], tokens=1))
    stats = GenerationStats(
        draft_model="other.gguf", total_draft_tokens_count=2, rejected_draft_tokens_count=2
    )
    with qtbot.waitSignal(page.replyFinished):
        page.replies.on_finished(reply, GenerationResult("Hi", stats))
    assert page.view.messages[-1].stats.draft_name == "Other · Q8"
    assert page.store.messages(page.conversation_id)[-1].stats["draft_name"] == "Other · Q8"
    assert page.store.conversation(page.conversation_id).draft_key == "other.gguf"


def test_visualization_toggles_are_remembered(page):
    page.sidebar.rejected_box.setChecked(True)
    page.sidebar.visualize_box.setChecked(False)
    assert page.view.render_style.show_rejected
    assert not page.view.visualize
    prefs = Preferences()
    assert prefs.get("show_rejected") is True
    assert prefs.get("visualize_drafts") is False

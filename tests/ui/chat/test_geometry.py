"""The chat page keeps its shape, measured: a reply's stats sit under its text and inside its
card, hints are as wide as the message box, and a user's bubble is as wide as its text."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.chat.message_model import MessageView
from app.chat.store import ChatStore
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult, GenerationStats, StopReason
from app.ui.chat.page import ChatPage
from app.ui.chat.transcript.card import MessageCard
from app.ui.theme.colours import LIGHT
from app.ui.theme.theming import stylesheet_for

WORDS = [
    "What",
    "is",
    "a",
    "bank",
    "account",
    "?",
    "What",
    "does",
    "it",
    "do",
    "?",
    "How",
    "much",
    "can",
    "you",
    "deposit",
    "and",
    "withdraw",
]


@pytest.fixture
def page(qtbot):
    store = ChatStore()
    p = ChatPage(store)
    qtbot.addWidget(p)
    # the app's stylesheet, as the window applies it (fonts and paddings change sizes); on the
    # page, not the application, so that it goes with the page
    p.setStyleSheet(stylesheet_for(LIGHT))
    p.resize(850, 640)
    p.show()
    qtbot.waitExposed(p)
    p.set_model_pair("Gemma 3 270m · F16", "Gemma 3 270m · Q4_K_M", "main.gguf", "draft.gguf")
    yield p
    store.close()


def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
    return QRect(widget.mapTo(ancestor, widget.rect().topLeft()), widget.size())


def long_reply(qtbot, page: ChatPage, tokens: int = 300) -> None:
    """A reply that streams many lines and stops at Max Tokens (its stats wrap to two lines each)."""
    requests = []
    page.generateRequested.connect(requests.append)
    page.prompt.setPlainText("What is the capital of France?")
    page.commands.send()
    reply = requests[-1].reply_id
    rng = random.Random(1)
    for i in range(tokens):
        text = rng.choice(WORDS) + (" " if rng.random() > 0.1 else "\n")
        page.replies.on_tokens(reply, StreamBatch(pieces=[(text, "draft" if i % 3 else "main", i)], tokens=1))
        if i % 7 == 0:
            settle()  # drawn as it streams
    stats = GenerationStats(
        tokens_per_second=2.2,
        time_to_first_token=1.87,
        predicted_tokens_count=tokens,
        stop_reason=StopReason.MAX_TOKENS,
        draft_model="draft.gguf",
        total_draft_tokens_count=246,
        accepted_draft_tokens_count=188,
        rejected_draft_tokens_count=58,
        verify_steps=31,
        rounds=[[8, 6]] * 31,
    )
    with qtbot.waitSignal(page.replyFinished):
        page.replies.on_finished(reply, GenerationResult("", stats))


def assert_reply_laid_out(card: MessageCard) -> None:
    body, stats, details = card.body.geometry(), card.stats_label.geometry(), card.details_button.geometry()
    assert stats.top() > body.bottom(), "the stats overlap the reply's text"
    assert stats.height() >= card.stats_label.heightForWidth(stats.width()), "the stats are cut"
    assert details.bottom() < card.height(), "the actions fall off the card"


def settle() -> None:
    """The posted events (layout requests) handled, as the event loop does between batches:
    no timer runs, so a size that is only right once something else redraws shows up wrong."""
    for _ in range(3):
        QApplication.processEvents()


def test_a_finished_reply_has_its_stats_under_its_text_and_inside_its_card(qtbot, page):
    long_reply(qtbot, page)
    settle()
    assert_reply_laid_out(page.view.cards[-1])
    shown = page.conversation_id
    page.new_conversation()
    settle()
    page.open_conversation(shown)  # the reply rendered again from the store
    settle()
    card = page.view.cards[-1]
    assert_reply_laid_out(card)
    column = page.view.column
    assert rect_in(card, column).bottom() < column.height()


@pytest.mark.parametrize("width", [850, 1400])
def test_the_hints_above_the_message_box_are_never_wider_than_it(qtbot, page, width):
    page.resize(width, 640)
    page.setup_hint.say(
        "This conversation used Gemma 3 270m instruction tuned QAT · F16 (unsloth/gemma-3-270m-it-qat-GGUF) "
        "+ Gemma 3 270m instruction tuned QAT · Q4_K_M (unsloth/gemma-3-270m-it-qat-GGUF)."
    )
    page.setup_hint.add_button("load", "Load them", "Load the models this conversation used", lambda: None)
    settle()
    box = rect_in(page.composer, page)
    hint = rect_in(page.setup_hint, page)
    assert hint.left() >= box.left()
    assert hint.right() <= box.right()


def test_copying_the_last_reply_says_so(qtbot, page):
    long_reply(qtbot, page, tokens=20)
    page.commands.copy_last_reply()
    assert not page.note_hint.isHidden()
    assert page.note_hint.label.text().startswith("Copied the last reply (")
    assert QApplication.clipboard().text() == page.view.messages[-1].text


def user_card(page: ChatPage, text: str) -> MessageCard:
    m = MessageView("user")
    m.text = text
    page.view.set_messages([m])
    settle()
    return page.view.cards[0]


def test_a_user_message_that_fits_on_a_line_is_never_wrapped(qtbot, page):
    for n in range(3, len(WORDS) + 1):
        card = user_card(page, " ".join(WORDS[:n]))
        if card.width() < int(page.view.column.width() * 0.85):
            lines = card.body.document().firstBlock().layout().lineCount()
            assert lines == 1, f"{n} words wrapped in a card {card.width()} px wide"


def test_esc_on_an_edit_gives_the_bubble_its_own_width_back(qtbot, page):
    card = user_card(page, "A short question")
    own = card.width()
    page.view.begin_edit()
    settle()
    assert card.width() == page.view.column.width()  # the editor takes the column
    card.editor.text.escaped.emit()  # Esc in the editor
    settle()
    assert card.editor is None
    assert card.width() == own


def test_the_send_buttons_focus_ring_shows(qtbot, page):
    page.prompt.setPlainText("hello")  # Send enabled
    page.activateWindow()
    qtbot.waitActive(page)
    page.prompt.setFocus()
    settle()
    before = page.send_button.grab().toImage()
    page.send_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(page.send_button.hasFocus)
    settle()
    after = page.send_button.grab().toImage()
    w, h = before.width(), before.height()
    edge = [(x, 1) for x in range(4, w - 4)] + [(x, h - 2) for x in range(4, w - 4)]
    changed = sum(1 for x, y in edge if before.pixelColor(x, y) != after.pixelColor(x, y))
    assert changed > len(edge) // 2, "the focus ring is not drawn along the button's edge"

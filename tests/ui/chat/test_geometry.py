"""The chat page keeps its shape, measured: a reply's stats sit under its text and inside its
card, hints are as wide as the message box, and a user's bubble is as wide as its text."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

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
    page.send()
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

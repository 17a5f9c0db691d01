"""The transcript with scripted streams: green is exactly the accepted draft tokens, a streamed
reply looks exactly like the same reply rendered at once, rounds and rejected drafts show
where they happened, and nothing already shown is rendered again while a reply grows."""

from __future__ import annotations

import random

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QTextCursor

from app.chat.message_model import MessageView
from app.chat.reply_stats import ReplyStats
from app.chat.stream_batch import LiveStats, StreamBatch
from app.core.events import RoundEvent
from app.ui.chat.transcript import document as message_document
from app.ui.chat.transcript.document import MessageRenderer
from app.ui.chat.transcript.formats import ORIGIN_PROP, PROPOSED_PROP, ROUND_PROP, RenderStyle, token_tooltip
from app.ui.chat.transcript.view import ChatView
from app.ui.theme.colours import DARK, LIGHT

M, D, R = "main", "draft", "rejected"
SCRIPT = [("Hello", M), (" wor", D), ("ld", D), ("! How", M), (" are", D), (" you", M), ("?", M)]
STATS = {
    "tokens_per_second": 12.5,
    "time_to_first_token": 0.2,
    "predicted_tokens_count": 7,
    "stop_reason": "eos",
    "draft_model": "d.gguf",
    "draft_name": "Tiny Draft · Q4_K_M",
    "total_draft_tokens_count": 4,
    "accepted_draft_tokens_count": 3,
    "rejected_draft_tokens_count": 1,
    "verify_steps": 3,
    "rounds": [[2, 2], [2, 1]],
}
MARKDOWN = (
    "# Title\n\nSome **bold** text and `code`.\nA second line, kept.\n\n"
    "```python\ndef f(x):\n    return x  # done\n```\n- one\n- two\n\n> quote\n"
)


@pytest.fixture
def view(qtbot):
    v = ChatView()
    v.resize(800, 600)
    qtbot.addWidget(v)
    return v


def stream(view: ChatView, script, batch_size: int = 2) -> None:
    view.begin_stream()
    for i in range(0, len(script), batch_size):
        view.append_tokens(script[i : i + batch_size])


def body(view: ChatView, i: int = -1):
    return view.cards[i].body.document()


def fragments(doc) -> list[tuple]:
    """Everything a reader sees, per fragment: text, colours, font, origin, round, block kind."""
    out = []
    block = doc.begin()
    while block.isValid():
        bf = block.blockFormat()
        out.append(("block", block.text(), bf.lineHeight(), bf.leftMargin()))
        it = block.begin()
        while not it.atEnd():
            f = it.fragment().charFormat()
            out.append(
                (
                    it.fragment().text(),
                    f.foreground().color().name(),
                    f.background().color().name() if f.background().style() else "",
                    f.font().bold(),
                    f.font().strikeOut(),
                    f.font().family(),
                    f.property(ORIGIN_PROP),
                    f.property(ROUND_PROP),
                )
            )
            it += 1
        block = block.next()
    return out


def test_streamed_green_is_exactly_the_draft_tokens_and_does_not_leak(view):
    stream(view, SCRIPT)
    assert view.draft_text() == " world are"
    text = body(view).toPlainText()
    assert [text[s:e] for s, e in view.draft_spans()[-1]] == [" world", " are"]
    view.append_tokens([("plain after", M)])
    assert view.draft_text() == " world are"


def test_finishing_changes_nothing_on_screen_but_the_stats(view):
    stream(view, [(c, D if i % 3 else M) for i, c in enumerate(MARKDOWN)], batch_size=5)
    before = fragments(body(view))
    m = view.end_stream(ReplyStats.from_dict(STATS))
    assert m is not None
    assert m.text == MARKDOWN
    assert fragments(body(view)) == before  # no reflow, no jump
    assert view.cards[-1].stats_label.text().splitlines() == [
        "12.5 tok/s · no-draft speed not measured yet · 0.20 s to first token · 7 tokens · finished",
        "Draft: Tiny Draft · Q4_K_M · Accepted 3/4 draft tokens (75%) · 2.33 tokens per verify step",
    ]
    assert not view.cards[-1].live.isVisible()


@pytest.mark.parametrize("seed", range(12))
def test_a_streamed_reply_looks_exactly_like_the_same_reply_rendered_at_once(qtbot, seed):
    rng = random.Random(seed)
    text = MARKDOWN + "```\nunclosed " + "x" * rng.randint(0, 5)
    pieces, i, rnd = [], 0, 1
    while i < len(text):
        n = rng.randint(1, 7)
        pieces.append((text[i : i + n], rng.choice((M, D)), rnd))
        if rng.random() < 0.2:
            pieces.append((" lost", R, rnd))
        i, rnd = i + n, rnd + 1
    style = RenderStyle(show_rejected=True)
    streamed = MessageView("assistant")
    from PySide6.QtGui import QTextDocument

    doc_a = QTextDocument()
    r = MessageRenderer(doc_a, style)
    j = 0
    while j < len(pieces):
        k = j + rng.randint(1, 6)
        streamed.append(pieces[j:k])
        r.extend(streamed)
        j = k
    r.finish(streamed)
    doc_b = QTextDocument()
    MessageRenderer(doc_b, style).render(
        MessageView.from_stored("assistant", text, streamed.origins, streamed.stats_for_storage())
    )
    assert fragments(doc_a) == fragments(doc_b)
    assert "lost" in doc_a.toPlainText()


def test_a_right_to_left_rejected_draft_never_turns_the_reply_around(view):
    """The line takes its direction from the reply's own text, and the proposal is isolated
    (its direction reorders nothing around it); a right-to-left reply stays right to left."""
    view.set_show_rejected(True)
    view.begin_stream()
    view.append_tokens([("\u05e9\u05dc\u05d5\u05dd", R, 1), ("cat", M, 1), (" sat", M, 1), ("\ufffd", R, 2)])
    view.append_tokens([("\n", M, 2), ("\u05e9\u05dc\u05d5\u05dd", M, 3), (" cat", R, 3)])
    doc = body(view)
    first, second = doc.firstBlock(), doc.firstBlock().next()
    assert first.text() == "\u2068\u05e9\u05dc\u05d5\u05dd\u2069cat sat\u2068\ufffd\u2069"
    assert first.textDirection() == Qt.LayoutDirection.LeftToRight
    assert second.text() == "\u05e9\u05dc\u05d5\u05dd\u2068 cat\u2069"
    assert second.textDirection() == Qt.LayoutDirection.RightToLeft
    view.set_show_rejected(False)
    assert body(view).firstBlock().text() == "cat sat"


def test_line_breaks_stay_exactly_as_streamed(view):
    stream(view, [("one\ntwo\n\nthree", M)])
    view.end_stream(None)
    doc = body(view)
    assert [doc.findBlockByNumber(i).text() for i in range(doc.blockCount())] == ["one", "two", "", "three"]


def test_markdown_is_rendered_with_exact_draft_colours(view):
    text = "# Title\n\n- **bold** item\n\n```python\nx = 1\n```\n"
    view.set_messages([MessageView("assistant", text, [[13, M], [4, D], [100, M]])])
    shown = body(view).toPlainText()
    assert "Title" in shown
    assert "# Title" not in shown
    assert "**" not in shown
    assert "```" not in shown
    assert view.draft_text() == "bold"
    # code is highlighted with the theme's colours
    cursor = body(view).find("x = 1")
    cursor.setPosition(cursor.selectionStart() + 1)
    colours = set()
    block = cursor.block()
    it = block.begin()
    while not it.atEnd():
        colours.add(it.fragment().charFormat().foreground().color().name())
        it += 1
    assert LIGHT.number in colours


def test_each_copy_link_copies_its_own_code_block(view):
    text = "See:\n```python\na = 1\n\nb = 2\n```\nand\n```\nsecond\n```\n"
    view.set_messages([MessageView("assistant", text)])
    card = view.cards[-1]
    doc = card.body.document()
    from PySide6.QtCore import QUrl

    copied = []
    cursor = doc.find("Copy")
    while not cursor.isNull():
        href = cursor.charFormat().anchorHref()
        assert href.startswith("copy:")
        card._on_anchor(QUrl(href))
        copied.append(QGuiApplication.clipboard().text())
        cursor = doc.find("Copy", cursor)
    assert copied == ["a = 1\n\nb = 2", "second"]


def test_toggling_rerenders_every_message_including_older_ones(view):
    stream(view, SCRIPT)
    view.end_stream(None)
    stream(view, [("Second", D), (" reply", M)])
    view.end_stream(None)
    assert view.draft_text() == " world areSecond"
    view.set_visualize(False)
    assert view.draft_text() == ""
    view.set_visualize(True)
    assert view.draft_text() == " world areSecond"


def test_every_character_knows_its_round_and_the_tooltip_says_so(view):
    view.begin_stream()
    view.append_tokens([("First", M, 0), (" draft", D, 1), (" main", M, 1), (" next", D, 2)])
    doc = body(view)

    def tip(word: str) -> str:
        c = doc.find(word)
        c.setPosition(c.selectionStart() + 1)
        return token_tooltip(c.charFormat())

    assert tip("First") == "Main model token · from the prompt"
    assert tip("draft") == "Accepted draft token · round 1"
    assert tip("main") == "Main model token · round 1"
    assert tip("next") == "Accepted draft token · round 2"
    view.set_visualize(False)
    assert tip("draft") == ""  # no origins when the visualization is off


def test_an_engine_that_reports_no_rounds_gets_no_round_in_the_tooltip(view):
    view.begin_stream()
    view.append_tokens([("Plain", M, 0), (" drafted", D, 0)])
    c = body(view).find("drafted")
    c.setPosition(c.selectionStart() + 1)
    assert token_tooltip(c.charFormat()) == "Accepted draft token"


def test_rejected_drafts_show_struck_through_where_the_main_model_disagreed(view):
    view.begin_stream()
    view.append_tokens([("The", M, 0), (" cat", D, 1), (" dog", R, 1), (" sat", M, 1)])
    assert "dog" not in body(view).toPlainText()  # hidden unless asked for
    view.set_show_rejected(True)
    assert body(view).toPlainText() == "The cat\u2068 dog\u2069 sat"
    c = body(view).find("dog")
    c.setPosition(c.selectionStart() + 1)
    fmt = c.charFormat()
    assert fmt.font().strikeOut()
    assert fmt.foreground().color() == QColor(LIGHT.rejected)
    assert fmt.property(PROPOSED_PROP) == " dog"
    assert token_tooltip(fmt).startswith("Rejected draft · round 1: the draft proposed “ dog”")
    m = view.end_stream(ReplyStats.from_dict(STATS))
    assert m is not None
    assert m.text == "The cat sat"
    # kept with the message and shown again after a restart
    again = MessageView.from_stored("assistant", m.text, m.origins, m.stats_for_storage())
    view.set_messages([again])
    assert body(view).toPlainText() == "The cat\u2068 dog\u2069 sat"
    assert view.draft_text() == " cat"


def test_continuing_a_reply_keeps_its_colours_and_adds_new_ones(view):
    stream(view, SCRIPT[:3])
    first = view.end_stream(None)
    assert first is not None
    view.begin_stream(continuing=first)
    assert view.draft_text() == " world"
    view.append_tokens([(" again", D), ("!", M)])
    done = view.end_stream(None)
    assert done is first
    assert done.text == "Hello world again!"
    assert view.draft_text() == " world again"
    assert len(view.messages) == 1
    assert len(view.cards) == 1


def test_a_growing_reply_renders_each_line_once(view, monkeypatch):
    """Appending works at the end only: earlier lines are never rendered again."""
    calls = []
    real = message_document.MessageRenderer._complete_chunk
    monkeypatch.setattr(
        message_document.MessageRenderer,
        "_complete_chunk",
        lambda self, cursor, m, text, end, line_done: (
            calls.append(end),
            real(self, cursor, m, text, end, line_done),
        ),
    )
    view.begin_stream()
    for i in range(300):
        view.append_tokens([(f"tok{i} ", M), ("en", D), ("\n" if i % 10 == 9 else " ", M)])
    assert len(calls) == 30
    assert len(set(calls)) == 30
    assert len(view.streaming.origins) == 601  # type: ignore[union-attr]


def test_a_very_long_line_is_redrawn_only_at_its_end(view, monkeypatch):
    """No newline for 20,000 tokens: each batch still redraws a bounded piece."""
    drawn = []
    real = message_document.MessageRenderer._fragments
    monkeypatch.setattr(
        message_document.MessageRenderer,
        "_fragments",
        lambda self, *args: (
            out := real(self, *args),
            drawn.append(sum(len(text) for text, _fmt in out)),  # the text this redraw draws
        )[0],
    )
    view.begin_stream()
    for i in range(2500):
        view.append_tokens([(" word", D if i % 3 else M, i)] * 8)
    assert len(view.streaming.text) == 100_000  # type: ignore[union-attr]
    assert max(drawn) <= message_document.SEGMENT + 50


@pytest.mark.parametrize("seed", range(6))
def test_a_long_line_streamed_looks_like_the_same_line_reopened(qtbot, seed):
    rng = random.Random(seed)
    words = ["alpha", "**bold words**", "`code`", "beta", "*it*", "gamma"]
    text = "- " + " ".join(rng.choice(words) for _ in range(900))
    if seed % 2:  # a long line of code, lexed whole when its fence closes
        text = "```python\nx = " + text + "\n```\nafter"
    pieces, i = [], 0
    while i < len(text):
        n = rng.randint(1, 40)
        pieces.append((text[i : i + n], rng.choice((M, D)), i))
        if rng.random() < 0.3:
            pieces.append(("~x~", R, i))
        i += n
    from PySide6.QtGui import QTextDocument

    style = RenderStyle(show_rejected=True)
    streamed = MessageView("assistant")
    doc_a = QTextDocument()
    r = MessageRenderer(doc_a, style)
    for j in range(0, len(pieces), 5):
        streamed.append(pieces[j : j + 5])
        r.extend(streamed)
    r.finish(streamed)
    doc_b = QTextDocument()
    reopened = MessageView.from_stored("assistant", text, streamed.origins, streamed.stats_for_storage())
    MessageRenderer(doc_b, style).render(reopened)
    assert doc_a.blockCount() > 1  # cut into chunks
    assert fragments(doc_a) == fragments(doc_b)


def test_live_strip_shows_speed_acceptance_and_when_drafting_pauses(view):
    view.begin_stream(with_draft=True)
    card = view.cards[-1]
    assert card.live.text() == "● generating"
    view.append_batch(StreamBatch(pieces=[("x", D, 0)], tokens=4, draft_tokens=3, elapsed=0.0))
    assert card.live.text() == "● generating · 3 of 4 tokens from the draft"
    view.append_batch(
        StreamBatch(
            pieces=[("a", D, 1), ("b", M, 1)],
            rounds=[RoundEvent(1, 4, 3, 4)],
            tokens=11,
            elapsed=2.0,
        )
    )
    assert card.live.text() == "● 7.0 tok/s · 3/4 drafted tokens accepted (75%) · draft length 4"
    view.append_batch(StreamBatch(rounds=[RoundEvent(2, 0, 0, 0, "no gain measured")], tokens=1, elapsed=2.5))
    assert card.live.text().endswith("drafting paused: no gain measured")
    view.end_stream(ReplyStats.from_dict(STATS))
    assert card.live.isHidden()


def test_live_stats_fold_batches():
    live = LiveStats()
    live.update(StreamBatch(rounds=[RoundEvent(1, 8, 5, 8), RoundEvent(2, 0, 0, 0, "no gain")], tokens=3))
    s = live.stats
    assert (s.total_draft_tokens_count, s.accepted_draft_tokens_count, s.verify_steps) == (8, 5, 2)
    assert (live.paused_rounds, live.paused) == (1, "no gain")
    assert s.rounds == [[8, 5], [0, 0]]
    assert live.tokens_per_second is None


def test_details_panel_opens_with_charts_and_honest_figures(view, qtbot):
    stream(view, SCRIPT)
    view.end_stream(ReplyStats.from_dict(STATS))
    card = view.cards[-1]
    assert card.details is None  # built when first opened
    card.details_button.setChecked(True)
    assert card.details is not None
    assert len(card.details.charts) == 2
    labels = [w.text() for w in card.details.findChildren(type(card.header))]
    assert "no-draft speed not measured yet" in labels
    assert "Tiny Draft · Q4_K_M" in labels
    chart = card.details.charts[0].chart()
    assert [s.label() for s in chart.series()[0].barSets()] == ["Accepted", "Rejected"]
    assert chart.axes()[0].titleText() == "Round"
    view.set_theme(DARK)  # the open panel is rebuilt in the new colours
    assert card.details is not None
    assert card.details.isVisibleTo(card)


def test_re_rendering_keeps_the_reader_where_they_were(view, qtbot):
    view.show()
    view.set_messages(
        [MessageView("user" if i % 2 else "assistant", f"Message {i}\n" * 8) for i in range(30)]
    )
    qtbot.waitUntil(lambda: view.verticalScrollBar().maximum() > 2000)
    bar = view.verticalScrollBar()
    target = view.cards[12]
    bar.setValue(target.y() + 5)
    view.set_show_rejected(True)
    view.set_theme(DARK)
    qtbot.wait(50)
    assert abs(bar.value() - (view.cards[12].y() + 5)) <= 2


def test_reply_actions_are_offered_where_they_apply(view):
    view.set_messages([MessageView("user", "q"), MessageView("assistant", "a"), MessageView("user", "q2")])
    stream(view, SCRIPT)
    visible = [{k for k, b in c.action_buttons.items() if not b.isHidden()} for c in view.cards]
    assert visible == [{"copy"}, {"copy"}, {"copy"}, set()]  # nothing to edit or retry mid-reply
    view.end_stream(None)
    visible = [{k for k, b in c.action_buttons.items() if not b.isHidden()} for c in view.cards]
    assert visible == [{"copy"}, {"copy"}, {"copy", "edit"}, {"copy", "regenerate", "continue"}]
    got = []
    view.actionRequested.connect(lambda key, m: got.append((key, m.text)))
    view.cards[-1].action_buttons["regenerate"].click()
    assert got == [("regenerate", "Hello world! How are you?")]


def test_user_text_is_never_marked_as_model_output(view):
    view.set_messages([MessageView("user", "my words", [[8, D]])])
    assert view.draft_text() == ""
    cursor = QTextCursor(body(view))
    cursor.setPosition(2)
    assert token_tooltip(cursor.charFormat()) == ""


def test_each_code_block_gets_one_panel_around_its_lines(view, qtbot):
    view.show()
    view.set_messages([MessageView("assistant", "aa0\n```\nxx1\nyy2\n```\nbb3\n```py\nzz4")])
    body = view.cards[-1].body
    qtbot.waitUntil(lambda: body.height() > 60)
    doc = body.document()
    rects = body.panel_rects(0, body.height())
    assert len(rects) == 2

    def centre(text: str) -> float:
        return doc.documentLayout().blockBoundingRect(doc.find(text).block()).center().y()

    assert rects[0].top() < centre("xx1") < centre("yy2") < rects[0].bottom()
    assert rects[1].top() < centre("zz4") < rects[1].bottom()  # not closed yet: to its last line
    assert not any(r.top() < centre("bb3") < r.bottom() for r in rects)
    assert not any(r.top() < centre("aa0") < r.bottom() for r in rects)
    assert body.panel_rects(centre("zz4"), centre("zz4")) == rects[1:]  # only what reaches the area


def test_switching_theme_mid_reply_and_continuing_an_open_code_block(view):
    text = "Intro\n```python\nx = 1\ny = 'two'\n```\nend\n"
    view.begin_stream()
    view.append_tokens([(text[:20], M, 1)])
    view.set_theme(DARK)  # re-rendered mid-reply, inside the code block
    view.append_tokens([(text[20:30], D, 2)])
    first = view.end_stream(None)  # ends inside the fence
    assert first is not None
    view.begin_stream(continuing=first)
    view.append_tokens([(text[30:], M, 3)])
    view.end_stream(None)
    streamed = fragments(body(view))
    view.set_messages(
        [MessageView.from_stored("assistant", first.text, first.origins, first.stats_for_storage())]
    )
    assert first.text == text
    assert fragments(body(view)) == streamed
    assert any(f[1] == DARK.string for f in streamed if len(f) == 8)

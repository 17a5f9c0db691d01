"""The transcript with a scripted stream: green is exactly the accepted draft tokens."""

from __future__ import annotations

import pytest

from app.ui.chat_view import DRAFT_TOOLTIP, ChatView, MessageView, draft_ranges

M, D = "main", "draft"
SCRIPT = [("Hello", M), (" wor", D), ("ld", D), ("! How", M), (" are", D), (" you", M), ("?", M)]


@pytest.fixture
def view(qtbot):
    v = ChatView()
    qtbot.addWidget(v)
    return v


def stream(view: ChatView, script, batch_size: int = 2):
    view.begin_stream()
    for i in range(0, len(script), batch_size):
        view.append_tokens(script[i : i + batch_size])


def test_streamed_green_is_exactly_the_draft_tokens_and_does_not_leak(view):
    stream(view, SCRIPT)
    assert view.draft_text() == " world are"
    text = view.document().toPlainText()
    spans = view.draft_spans()
    assert [text[s:e] for s, e in spans] == [" world", " are"]
    view.append_tokens([("plain after", M)])
    assert view.draft_text() == " world are"  # no leak into text typed after a draft run


def test_finished_reply_keeps_exactly_the_same_green(view):
    stream(view, SCRIPT)
    m = view.end_stream(
        {
            "tokens_per_second": 12.5,
            "time_to_first_token": 0.2,
            "predicted_tokens_count": 7,
            "stop_reason": "eos",
            "draft_model": "d.gguf",
            "total_draft_tokens_count": 4,
            "accepted_draft_tokens_count": 3,
        }
    )
    assert m is not None and m.text == "Hello world! How are you?"
    assert m.origins == [[5, M], [6, D], [5, M], [4, D], [5, M]]
    assert view.draft_text() == " world are"
    plain = view.document().toPlainText()
    assert "Accepted 3/4 draft tokens (75%)" in plain and "Draft model: d.gguf" in plain


def test_toggling_rerenders_every_message_including_older_ones(view):
    stream(view, SCRIPT)
    view.end_stream(None)
    stream(view, [("Second", D), (" reply", M)])
    view.end_stream(None)
    assert view.draft_text() == " world areSecond"
    view.set_visualize(False)
    assert view.draft_spans() == []
    view.set_visualize(True)
    assert view.draft_text() == " world areSecond"


def test_markdown_is_rendered_and_draft_colour_follows_the_rendered_text(view):
    view.set_messages(
        [
            MessageView(
                "assistant",
                "# Title\n\n- **bold** item\n\n```python\nx = 1\n```\n",
                [[13, M], [4, D], [100, M]],
            )
        ]
    )
    text = view.document().toPlainText()
    assert "# Title" not in text and "Title" in text and "**" not in text
    assert view.draft_text() == "bold"
    cursor = view.document().find("x = 1")
    assert view.code_block_at(cursor) == "x = 1"
    assert view.code_block_at(view.document().find("Title")) is None


def test_draft_fragments_carry_the_tooltip(view):
    stream(view, SCRIPT)
    cursor = view.document().find("wor")
    assert cursor.charFormat().toolTip() == DRAFT_TOOLTIP


def test_continuing_a_reply_keeps_its_colours_and_adds_new_ones(view):
    stream(view, SCRIPT[:3])
    first = view.end_stream(None)
    assert first is not None
    view.begin_stream(continuing=first)
    assert view.draft_text() == " world"
    view.append_tokens([(" again", D), ("!", M)])
    done = view.end_stream(None)
    assert done is first and done.text == "Hello world again!"
    assert view.draft_text() == " world again"
    assert len(view.messages) == 1


def test_draft_ranges_align_through_markdown_markup():
    assert draft_ranges("a **b** c", [[4, M], [1, D], [4, M]], "a b c") == [(2, 3)]
    assert draft_ranges("same", [[2, D], [2, M]], "same") == [(0, 2)]
    assert draft_ranges("none", [[4, M]], "none") == []


def test_append_cost_does_not_grow_with_the_message(view):
    """Appending works on the end only: the document is not rebuilt per batch."""
    view.begin_stream()
    for _ in range(300):
        view.append_tokens([("tok ", M), ("en ", D)])
    blocks_before = view.document().blockCount()
    view.append_tokens([("x", M)])
    assert view.document().blockCount() == blocks_before
    assert len(view.streaming.origins) == 601  # type: ignore[union-attr]

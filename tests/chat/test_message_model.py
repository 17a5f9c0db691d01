"""A message's per-character origins, rounds and rejected drafts, and how they are stored."""

from __future__ import annotations

from app.chat.message_model import REJECTED_KEY, ROUNDS_KEY, MessageView, RunIndex
from app.chat.reply_stats import ReplyStats
from app.core.events import GenerationStats


def test_runs_grow_at_the_end_and_merge_equal_neighbours():
    runs = RunIndex()
    for n, v in [(3, "a"), (2, "a"), (0, "b"), (4, "b"), (1, "a")]:
        runs.append(n, v)
    assert runs.runs() == [[5, "a"], [4, "b"], [1, "a"]]
    assert list(runs.between(4, 12, "z")) == [(4, 5, "a"), (5, 9, "b"), (9, 10, "a"), (10, 12, "z")]


def test_segments_combine_origin_and_round():
    m = MessageView("assistant")
    m.append([("Hi", "main", 0), (" there", "draft", 1), (" you", "rejected", 1), ("!", "main", 1)])
    assert m.text == "Hi there!"
    assert m.segments(0, 9) == [(0, 2, "main", 0), (2, 8, "draft", 1), (8, 9, "main", 1)]
    assert m.rejected == [(8, 1, " you")]
    assert m.rejected_between(8, 8) == [(8, 1, " you")]
    stored = m.stats_for_storage()
    assert stored == {ROUNDS_KEY: [[2, 0], [7, 1]], REJECTED_KEY: [[8, 1, " you"]]}


def test_stored_messages_come_back_the_same_and_damage_is_survived():
    m = MessageView("assistant")
    m.append([("a", "draft", 3), ("b", "main", 3)])
    m.stats = ReplyStats(GenerationStats(tokens_per_second=1.0), "Main")
    back = MessageView.from_stored("assistant", m.text, m.origins, m.stats_for_storage())
    assert back.segments(0, 2) == m.segments(0, 2)
    assert back.stats == m.stats
    broken = MessageView.from_stored("assistant", "ab", [[1, "draft"], [1, "main"]], {ROUNDS_KEY: "nonsense"})
    assert broken.segments(0, 2) == [(0, 1, "draft", None), (1, 2, "main", None)]


def test_an_old_message_being_continued_is_padded():
    old = MessageView("assistant", "older text", [])  # stored before origins or rounds were kept
    old.append([(" more", "draft", 1)])
    assert old.origins == [[10, "main"], [5, "draft"]]
    assert old.segments(8, 12) == [(8, 10, "main", None), (10, 12, "draft", 1)]

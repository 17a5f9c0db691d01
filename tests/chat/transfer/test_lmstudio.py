"""LM Studio's conversations, in files written here from the shape LM Studio saves them in:
versions and the version shown, the system prompt, the model, genInfo's stats with the draft's
counts, fromDraftModel chunks as accepted draft tokens; a broken file is skipped with its
reason and never stops the others; a re-import is recognised."""

from __future__ import annotations

from pathlib import Path

from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import stats_line
from app.chat.store import ChatStore
from app.chat.transfer import lmstudio
from app.chat.transfer.importing import import_paths
from app.chat.transfer.store_io import read_conversation
from tests.chat.transfer.conversations import DRAFT_STATS, QWEN, lmstudio_conversation, write_json


def lmstudio_folder() -> Path:
    """LM Studio's conversations folder in the test's home: two good files (one in a folder, as
    LM Studio keeps them), a broken one, and a file of another kind beside them."""
    folder = Path.home() / ".lmstudio" / "conversations"
    write_json(folder / "1756219403097.conversation.json", lmstudio_conversation("Primes"))
    write_json(folder / "Maths" / "1756219999999.conversation.json", lmstudio_conversation("More primes", ""))
    (folder / "1756210000000.conversation.json").write_text('{"name": "cut short", "messages": [{"vers')
    write_json(folder / "Maths" / "Maths.folder.json", {"name": "Maths"})
    return folder


def test_lmstudio_conversations_are_found_where_lmstudio_keeps_them():
    folder = lmstudio_folder()
    assert folder in lmstudio.conversation_folders()
    assert [p.name for p in lmstudio.found_conversations()] == [
        "1756210000000.conversation.json",
        "1756219403097.conversation.json",
        "1756219999999.conversation.json",
    ]


def test_versions_system_prompt_model_draft_stats_and_green_chunks_come_in(tmp_path):
    folder = lmstudio_folder()
    store = ChatStore(tmp_path / "c.sqlite3")
    summary = import_paths(store, [folder])
    assert [i.title for i in summary.imported] == ["Primes", "More primes"]
    [broken] = summary.skipped
    assert broken.path.name == "1756210000000.conversation.json"
    assert broken.reason.startswith("it is not valid JSON (Unterminated string")
    conv = read_conversation(store, summary.imported[0].conversation_id)
    assert conv.settings == {"system_prompt": "You are terse."}
    assert conv.model_key == QWEN  # a library key: offered again when the model is here
    assert conv.draft_key == DRAFT_STATS["usedDraftModelKey"]
    assert conv.created == 1756219403.097
    question, answer = conv.messages
    assert (question.role, question.current.content) == ("user", "Name a prime number.")
    assert [v.content for v in answer.versions] == ["Seven.", "Eleven is a prime.", "Two."]
    assert answer.shown == 1  # currentlySelected
    shown = answer.current
    assert shown.origins == [[6, "main"], [11, "draft"], [1, "main"]]
    stats = ReplyStats.from_dict(shown.stats)
    g = stats.generation
    assert (g.tokens_per_second, g.time_to_first_token, g.predicted_tokens_count) == (48.2, 0.31, 78)
    assert g.generation_time == 1.93 - 0.31
    assert (
        g.total_draft_tokens_count,
        g.accepted_draft_tokens_count,
        g.rejected_draft_tokens_count,
        g.ignored_draft_tokens_count,
    ) == (60, 41, 15, 4)
    assert (stats.model_name, stats.measured_by) == ("qwen2.5-7b-instruct", "LM Studio")
    line = stats_line(stats)
    assert "vs no draft" not in line  # no no-draft speed was measured alongside it
    assert "measured by LM Studio" in line
    assert "Accepted 41/56 draft tokens (73%)" in line
    assert ReplyStats.from_dict(answer.versions[0].stats).with_draft is False
    assert answer.versions[2].stats is None  # LM Studio kept no stats for it
    second = read_conversation(store, summary.imported[1].conversation_id)
    assert second.settings is None
    store.close()


def test_importing_lmstudio_again_is_recognised(tmp_path):
    folder = lmstudio_folder()
    store = ChatStore(tmp_path / "c.sqlite3")
    import_paths(store, [folder])
    again = import_paths(store, [folder / "1756219403097.conversation.json"])
    assert not again.anything_imported
    assert [a.title for a in again.already] == ["Primes"]
    assert len(store.conversations()) == 2
    store.close()


def test_a_file_that_is_not_a_conversation_says_so(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    odd = write_json(tmp_path / "settings.json", {"theme": "dark"})
    latin = tmp_path / "latin.conversation.json"
    latin.write_bytes(b'{"name": "caf\xe9"}')
    missing = tmp_path / "gone.conversation.json"
    summary = import_paths(store, [odd, latin, missing])
    assert [s.reason for s in summary.skipped] == [
        "not a conversation file Specula knows (its own JSON, an LM Studio conversation, "
        "ChatGPT's conversations.json)",
        "it is not UTF-8 text (byte 14)",
        "it could not be read (No such file or directory)",
    ]
    store.close()

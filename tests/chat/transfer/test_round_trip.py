"""Our JSON: a conversation with versions, rounds, rejected drafts and a Continue leaves and
comes back exactly; importing it again (or into the file it came from) is recognised; an
import is one transaction."""

from __future__ import annotations

import json

import pytest

from app.chat.reply_stats import ReplyStats
from app.chat.store import ChatStore
from app.chat.transfer.exporting import export, render
from app.chat.transfer.importing import import_paths
from app.chat.transfer.specula_json import FORMAT, SCHEMA_VERSION
from app.chat.transfer.store_io import read_conversation
from tests.chat.transfer.conversations import rich_conversation


def fields(conv):
    """Everything a conversation says, its id aside."""
    return (
        conv.title,
        conv.created,
        conv.updated,
        conv.model_key,
        conv.draft_key,
        conv.settings,
        [
            (m.role, m.shown, [(v.content, v.origins, v.stats, v.created) for v in m.versions])
            for m in conv.messages
        ],
    )


@pytest.fixture
def source(tmp_path):
    store = ChatStore(tmp_path / "here.sqlite3")
    cid = rich_conversation(store)
    yield store, cid
    store.close()


def test_a_conversation_with_versions_rounds_and_a_continue_comes_back_exactly(source, tmp_path):
    store, cid = source
    original = read_conversation(store, cid)
    reply = original.messages[1]
    assert (len(reply.versions), reply.shown) == (2, 1)
    continued = ReplyStats.from_dict(reply.current.stats)
    assert continued.generation.predicted_tokens_count == 6  # the regenerated reply plus its Continue
    assert len(continued.generation.rounds) == 3
    assert reply.current.stats["token_rounds"][-1][1] == 4  # Continue numbered its rounds after the reply's
    assert reply.versions[0].stats["rejected_drafts"] == [[12, 1, " cap"]]

    path = tmp_path / "out" / "chat.json"
    export(store, [cid], "json", path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert (document["format"], document["schema_version"]) == (FORMAT, SCHEMA_VERSION)

    other = ChatStore(tmp_path / "there.sqlite3")
    summary = import_paths(other, [path])
    assert summary.anything_imported
    [imported] = summary.imported
    back = read_conversation(other, imported.conversation_id)
    assert fields(back) == fields(original)
    assert other.messages(imported.conversation_id)[1].versions == 2  # the chat sees both versions
    again = json.loads(render([back], "json"))
    assert again["conversations"] == document["conversations"]  # and it leaves again the same
    other.close()


def test_importing_the_same_file_again_is_recognised(source, tmp_path):
    store, cid = source
    path = tmp_path / "chat.json"
    export(store, [cid], "json", path)
    assert import_paths(store, [path]).already[0].conversation_id == cid  # into the file it came from
    other = ChatStore(tmp_path / "there.sqlite3")
    first = import_paths(other, [path])
    second = import_paths(other, [path, path])
    assert len(first.imported) == 1
    assert not second.imported
    assert [a.conversation_id for a in second.already] == [first.imported[0].conversation_id] * 2
    assert len(other.conversations()) == 1
    other.close()


def test_an_import_is_one_transaction(source, tmp_path):
    store, _cid = source
    path = tmp_path / "chat.json"
    export(store, None, "json", path)
    other = ChatStore(tmp_path / "there.sqlite3")
    other.db.execute(  # the third message fails to be stored
        "CREATE TRIGGER no_third BEFORE INSERT ON messages WHEN (SELECT COUNT(*) FROM messages) >= 2 "
        "BEGIN SELECT RAISE(ABORT, 'no room for a third message'); END"
    )
    summary = import_paths(other, [path])
    assert not summary.anything_imported
    assert "no room for a third message" in summary.skipped[0].reason
    assert other.conversations() == []
    assert other.db.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)
    other.close()


def test_a_document_from_a_newer_specula_or_with_a_bad_conversation_says_why(source, tmp_path):
    store, cid = source
    document = json.loads(render([read_conversation(store, cid)], "json"))
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**document, "schema_version": SCHEMA_VERSION + 1}))
    good = document["conversations"][0]
    bad = {**good, "title": "broken", "messages": [{"role": "robot", "versions": []}]}
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({**document, "conversations": [bad, good]}))
    other = ChatStore(tmp_path / "there.sqlite3")
    summary = import_paths(other, [newer, mixed])
    assert [i.title for i in summary.imported] == [good["title"]]
    reasons = [s.reason for s in summary.skipped]
    assert "written by a newer Specula" in reasons[0]
    assert reasons[1] == "“broken”: message 1 has the role 'robot' (expected one of user, assistant, system)"
    other.close()

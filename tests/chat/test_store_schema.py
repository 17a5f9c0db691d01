"""The conversations file across versions: a version-1 file (as the first release wrote it)
is migrated in one transaction with nothing lost; versions of a reply, an edited exchange,
deletion with undo, and each conversation's setup are stored and survive salvage."""

from __future__ import annotations

import sqlite3

import pytest

import app.chat.store_schema as schema
from app.chat.salvage import salvage
from app.chat.store import ChatStore, StoredMessage

# The first release's schema, verbatim in spirit: what users' files hold today.
VERSION_1 = """
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    model_key TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
    origins TEXT NOT NULL DEFAULT '[]', stats TEXT, created REAL NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, position);
CREATE TABLE damaged_conversations (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    note TEXT NOT NULL
);
PRAGMA user_version = 1;
"""


def version_1_file(path):
    db = sqlite3.connect(path)
    db.executescript(VERSION_1)
    db.execute("INSERT INTO conversations VALUES (1, 'old chat', 1.0, 2.0, NULL)")
    db.execute("INSERT INTO messages VALUES (1, 1, 0, 'user', 'hi', '[]', NULL, 1.0)")
    db.execute(
        "INSERT INTO messages VALUES (2, 1, 1, 'assistant', 'hello', '[[5, \"draft\"]]', "
        "'{\"tokens_per_second\": 12.5}', 1.5)"
    )
    db.commit()
    db.close()
    return path


def columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def test_a_version_1_file_is_migrated_with_nothing_lost(tmp_path):
    path = version_1_file(tmp_path / "conversations.sqlite3")
    store = ChatStore(path)
    assert store.notice is None
    assert store.schema_version == schema.SCHEMA_VERSION
    [conv] = store.conversations()
    assert (conv.id, conv.title, conv.model_key, conv.draft_key) == (1, "old chat", None, None)
    user, reply = store.messages(1)
    assert (user.content, reply.content, reply.origins) == ("hi", "hello", [[5, "draft"]])
    assert reply.stats == {"tokens_per_second": 12.5}
    assert (reply.version, reply.versions) == (0, 1)
    store.remember_setup(1, "main.gguf", "draft.gguf", {"temperature": 0.2})
    store.add_version(reply, StoredMessage("assistant", "hey"))
    store.close()
    again = ChatStore(path)  # and it opens again as it is
    conv = again.conversation(1)
    assert (conv.model_key, conv.draft_key, conv.settings) == (
        "main.gguf",
        "draft.gguf",
        {"temperature": 0.2},
    )
    assert [m.content for m in again.versions(2)] == ["hello", "hey"]
    again.close()


def test_a_migration_that_fails_midway_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = version_1_file(tmp_path / "conversations.sqlite3")
    db = sqlite3.connect(path)
    monkeypatch.setattr(schema, "_VERSION_2", "CREATE TABLE message_versions (oops")
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(db)
    assert "draft_key" not in columns(db, "conversations")  # the columns added before it are gone too
    assert "version" not in columns(db, "messages")
    assert db.execute("PRAGMA user_version").fetchone() == (1,)
    db.close()


def test_regenerated_replies_are_versions_to_page_through(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    cid = store.create_conversation()
    store.add_message(cid, StoredMessage("user", "q"))
    first = StoredMessage("assistant", "one", [[3, "main"]], {"predicted_tokens_count": 1})
    store.add_message(cid, first)
    second = StoredMessage("assistant", "two")
    store.add_version(first, second)
    third = StoredMessage("assistant", "three")
    store.add_version(first, third)
    shown = store.messages(cid)[-1]
    assert (shown.content, shown.version, shown.versions) == ("three", 2, 3)
    store.select_version(shown.id, 0)
    shown = store.messages(cid)[-1]
    assert (shown.content, shown.origins, shown.stats) == (
        "one",
        [[3, "main"]],
        {"predicted_tokens_count": 1},
    )
    shown.content += " more"  # Continue on an older version grows that version
    store.update_message(shown)
    assert [m.content for m in store.versions(shown.id)] == ["one more", "two", "three"]
    assert len(store.messages(cid)) == 2  # versions are not messages


def test_an_edited_exchange_replaces_the_old_one_in_one_step(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    cid = store.create_conversation()
    store.add_message(cid, StoredMessage("user", "first"))
    store.add_message(cid, StoredMessage("assistant", "answer 1"))
    mine = StoredMessage("user", "typo")
    store.add_message(cid, mine)
    store.add_message(cid, StoredMessage("assistant", "answer 2"))
    store.replace_exchange(mine, "fixed", StoredMessage("assistant", "answer 3"))
    assert [m.content for m in store.messages(cid)] == ["first", "answer 1", "fixed", "answer 3"]


def test_a_deleted_conversation_can_be_undone_until_the_file_is_reopened(tmp_path):
    path = tmp_path / "c.sqlite3"
    store = ChatStore(path)
    keep, gone = store.create_conversation("keep"), store.create_conversation("gone")
    store.add_message(gone, StoredMessage("user", "bye"))
    store.delete(gone)
    assert [c.id for c in store.conversations()] == [keep]
    assert store.conversation(gone) is None
    assert store.conversations("bye") == []
    store.undelete(gone)
    assert {c.id for c in store.conversations()} == {keep, gone}
    store.delete(gone)
    store.close()
    again = ChatStore(path)
    assert [c.id for c in again.conversations()] == [keep]
    assert again._db.execute("SELECT COUNT(*) FROM messages").fetchone() == (0,)  # purged, for real
    again.close()


def test_salvage_keeps_versions_and_setups(tmp_path):
    src = ChatStore(tmp_path / "src.sqlite3")
    cid = src.create_conversation("c", "m.gguf", "d.gguf", {"top_k": 5})
    src.add_message(cid, StoredMessage("user", "q"))
    reply = StoredMessage("assistant", "a")
    src.add_message(cid, reply)
    src.add_version(reply, StoredMessage("assistant", "b"))
    dest = ChatStore(tmp_path / "dest.sqlite3")
    report = salvage(src._db, dest._db)
    assert report.conversations == 1
    conv = dest.conversation(cid)
    assert (conv.draft_key, conv.settings) == ("d.gguf", {"top_k": 5})
    shown = dest.messages(cid)[-1]
    assert (shown.content, shown.version, shown.versions) == ("b", 1, 2)
    src.close()
    dest.close()

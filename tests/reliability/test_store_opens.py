"""The conversations file: whatever state it is in, the app opens, nothing is deleted, the
user is told what happened and where the old file is, and what can be read is kept."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from app.chat.store import ChatStore, ConversationUnreadableError, StoredMessage
from app.chat.store_recovery import describe
from tests.reliability.helpers import as_other_user

N_CONVERSATIONS, N_MESSAGES = 30, 20


def fill(path: Path, conversations: int = N_CONVERSATIONS, messages: int = N_MESSAGES) -> Path:
    store = ChatStore(path)
    for c in range(conversations):
        cid = store.create_conversation(f"conversation {c}")
        for m in range(messages):
            role = "user" if m % 2 == 0 else "assistant"
            text = f"message {c}-{m} " + "lorem ipsum dolor " * 30
            store.add_message(cid, StoredMessage(role, text, [[5, "main"], [3, "draft"]], {"n": m}))
    store.close()
    return path


def kept_files(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name + ".") and "-" in p.name
                  and not p.name.endswith(("-wal", "-shm")))  # fmt: skip


def assert_sound(store: ChatStore) -> None:
    (result,) = store._db.execute("PRAGMA integrity_check").fetchone()
    assert result == "ok"


def damage(path: Path, offset: int, length: int) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(os.urandom(length))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return fill(tmp_path / "conversations.sqlite3")


def test_a_sound_file_opens_without_a_notice(db):
    store = ChatStore(db)
    assert store.notice is None
    assert store.saving
    assert len(store.conversations()) == N_CONVERSATIONS
    assert describe(db) == f"ok, {N_CONVERSATIONS} conversations"


def test_damage_in_the_middle_is_set_aside_and_what_can_be_read_is_recovered(db):
    original = db.read_bytes()
    damage(db, len(original) // 2, 3 * 4096)
    damaged_bytes = db.read_bytes()
    assert describe(db).startswith("damaged")
    store = ChatStore(db)
    assert store.notice is not None
    assert store.saving
    (kept,) = kept_files(db)
    assert store.notice.kept_as == kept
    assert str(kept) in store.notice.message
    assert kept.read_bytes() == damaged_bytes  # kept exactly as it was, never deleted
    assert "recovered" in store.notice.message
    assert_sound(store)
    convs = store.conversations()
    assert len(convs) == N_CONVERSATIONS
    complete = [c for c in convs if store.damage_note(c.id) is None]
    assert len(complete) >= N_CONVERSATIONS - 5
    for conv in complete:
        assert len(store.messages(conv.id)) == N_MESSAGES
    notes = [store.damage_note(c.id) for c in convs if store.damage_note(c.id)]
    assert notes
    assert all("damaged file" in n for n in notes)
    assert [c.title for c in store.conversations("message 3-")] == ["conversation 3"]
    cid = store.create_conversation("after")  # the fresh file takes new work
    store.add_message(cid, StoredMessage("user", "still here"))
    store.close()
    again = ChatStore(db)
    assert again.notice is None
    assert len(again.conversations()) == N_CONVERSATIONS + 1


def test_a_truncated_file_is_set_aside_and_its_readable_start_recovered(db):
    os.truncate(db, db.stat().st_size // 3)
    store = ChatStore(db)
    assert store.notice is not None
    assert store.notice.kept_as is not None
    assert store.notice.kept_as.stat().st_size > 0
    assert_sound(store)
    assert store.conversations()  # the first pages held conversations and messages
    assert any(store.messages(c.id) for c in store.conversations())


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda p: damage(p, 0, 100), id="header"),
        pytest.param(lambda p: p.write_bytes(b"hello, not a database at all" * 100), id="text"),
    ],
)
def test_a_file_sqlite_cannot_read_is_set_aside_and_a_fresh_store_used(db, spoil):
    spoil(db)
    before = db.read_bytes()
    store = ChatStore(db)
    assert store.notice is not None
    assert "a new, empty one is used" in store.notice.message
    assert store.notice.kept_as is not None
    assert store.notice.kept_as.read_bytes() == before
    assert store.conversations() == []
    store.create_conversation()
    assert len(store.conversations()) == 1


def test_a_folder_in_its_place_is_set_aside(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    path.mkdir()
    (path / "keep-me").write_text("x")
    store = ChatStore(path)
    assert store.notice is not None
    assert store.notice.kept_as is not None
    assert (store.notice.kept_as / "keep-me").read_text() == "x"
    assert store.saving
    assert path.is_file()


def test_another_programs_database_is_set_aside(tmp_path):
    path = tmp_path / "conversations.sqlite3"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE conversations (something TEXT)")
    other.execute("INSERT INTO conversations VALUES ('theirs')")
    other.commit()
    other.close()
    store = ChatStore(path)
    assert store.notice is not None
    assert "not a Specula conversations file" in store.notice.message
    kept = sqlite3.connect(store.notice.kept_as)
    assert kept.execute("SELECT something FROM conversations").fetchall() == [("theirs",)]


def test_an_unreadable_file_is_set_aside(tmp_path, shared_folder):
    folder = shared_folder("data", 0o777)
    path = fill(folder / "conversations.sqlite3", 3, 2)
    os.chmod(path, 0o000)

    def open_it() -> tuple[str, bool, int, list[str]]:
        store = ChatStore(path)
        assert store.notice is not None
        store.create_conversation("new")
        return store.notice.message, store.saving, len(store.conversations()), os.listdir(folder)

    message, saving, n, names = as_other_user(open_it)
    assert "unreadable" in message
    assert saving
    assert n == 1
    assert any(name.startswith("conversations.sqlite3.unreadable-") for name in names)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_opens_read_only_with_a_clear_notice(shared_folder, what):
    folder = shared_folder("data", 0o777)
    path = fill(folder / "conversations.sqlite3", 4, 2)
    os.chmod(path, 0o444 if what == "file" else 0o666)
    os.chmod(folder, 0o755)
    before = path.read_bytes()

    def use_it() -> tuple[str, bool, int, int]:
        store = ChatStore(path)
        assert store.notice is not None
        cid = store.create_conversation("this session")
        store.add_message(cid, StoredMessage("user", "kept in memory only"))
        return store.notice.message, store.saving, len(store.conversations()), len(store.messages(cid))

    message, saving, n, in_session = as_other_user(use_it)
    assert not saving
    assert n == 5
    assert in_session == 1
    assert "nothing from this session will be saved" in message
    assert ("is read-only" if what == "file" else "folder") in message
    assert path.read_bytes() == before
    assert sorted(os.listdir(folder)) == ["conversations.sqlite3"]


def test_a_data_folder_that_cannot_be_created_leaves_a_working_session(shared_folder):
    folder = shared_folder("locked", 0o755)

    def use_it() -> tuple[str, bool, int]:
        store = ChatStore(folder / "Specula" / "conversations.sqlite3")
        assert store.notice is not None
        store.create_conversation()
        return store.notice.message, store.saving, len(store.conversations())

    message, saving, n = as_other_user(use_it)
    assert not saving
    assert n == 1
    assert "cannot be saved" in message


def zero_page_holding(path: Path, needle: bytes) -> None:
    data = path.read_bytes()
    at = data.index(needle)
    page = 4096
    damage(path, at // page * page, page)


def test_a_page_damaged_while_the_app_runs_costs_only_its_conversation(db):
    store = ChatStore(db)
    ids = {c.title: c.id for c in store.conversations()}
    zero_page_holding(db, b"message 7-5 ")
    store._db.execute("PRAGMA shrink_memory")  # drop the page cache, as time or memory pressure would
    with pytest.raises(ConversationUnreadableError, match="could not be read"):
        store.messages(ids["conversation 7"])
    assert len(store.messages(ids["conversation 8"])) == N_MESSAGES
    assert [c.title for c in store.conversations("message 12-")] == ["conversation 12"]
    assert len(store.conversations()) == N_CONVERSATIONS

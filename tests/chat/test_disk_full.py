"""A full disk loses nothing: a reply it has no room for is kept, shown in its place and
stored when space returns (one transaction, as if it had been stored at once); a message sent
on a full disk is kept with its reply; a full disk at start is said, and the file is neither
set aside nor given up on. On a real small disk (tmpfs) the test fills and frees."""

from __future__ import annotations

import pytest

from app.chat.reply import REGENERATE, SEND, UNSAVED
from app.chat.session import WAIT_FOR_SAVE, ChatSession, FixedPair
from app.chat.store import ChatStore, StoredMessage, StoreFullError
from app.chat.store_recovery import describe

LONG = "A reply long enough to need pages of its own. " * 400


@pytest.fixture
def on_tiny_disk(tiny_disk):
    path = tiny_disk.root / "data" / "conversations.sqlite3"
    store = ChatStore(path)
    session = ChatSession(store)
    session.open_latest_or_new()
    session.models = FixedPair("main.gguf")
    yield tiny_disk, session, path
    store.close()


def test_a_reply_the_disk_has_no_room_for_is_kept_and_stored_when_space_returns(on_tiny_disk):
    disk, session, path = on_tiny_disk
    seen = []
    session.events.unsaved.connect(seen.append)
    session.begin(SEND, "question")
    disk.fill()
    kept = session.commit(
        StoredMessage("assistant", LONG, [[len(LONG), "draft"]], {"predicted_tokens_count": 9})
    )
    assert session.reply is None  # the reply is over ...
    assert session.unsaved is not None  # ... and kept
    assert UNSAVED == "disk full: this reply is not saved yet"
    assert "the disk is full" in session.unsaved.why
    assert seen == [session.unsaved]
    assert [m.content for m in session.messages] == ["question", LONG]  # shown in its place
    assert session.why_not(SEND) == WAIT_FOR_SAVE  # nothing reads or writes past it
    assert not session.save_unsaved()  # still no room
    assert session.unsaved is not None
    disk.free()
    assert session.save_unsaved()
    assert session.unsaved is None
    assert seen[-1] is None
    assert session.why_not(SEND) == ""
    session.store.close()
    again = ChatStore(path)
    stored = again.messages(session.conversation_id)
    assert [(m.content, m.origins, m.stats) for m in stored] == [
        ("question", [], None),
        (LONG, [[len(LONG), "draft"]], {"predicted_tokens_count": 9}),
    ]
    assert kept.content == LONG
    again.close()


def test_a_message_sent_on_a_full_disk_is_stored_with_its_reply_and_the_title(on_tiny_disk):
    disk, session, _path = on_tiny_disk
    cid = session.conversation_id
    disk.fill()
    session.begin(SEND, "asked while the disk was full")
    assert [m.content for m in session.messages] == ["asked while the disk was full"]
    session.commit(StoredMessage("assistant", LONG))
    assert [m.content for m in session.messages] == ["asked while the disk was full", LONG]
    assert session.store.messages(cid) == []
    disk.free()
    assert session.save_unsaved()
    assert session.title == "asked while the disk was full"
    assert [m.content for m in session.store.messages(cid)] == ["asked while the disk was full", LONG]


def test_a_message_sent_on_a_full_disk_that_brings_no_reply_is_stored_once_it_fits(on_tiny_disk):
    disk, session, _path = on_tiny_disk
    cid = session.conversation_id
    disk.fill()
    session.begin(SEND, "asked while the disk was full")
    disk.free()
    ended = session.abandon()  # the model failed: no reply to keep
    assert ended.unsaved_user is None
    assert [m.content for m in session.store.messages(cid)] == ["asked while the disk was full"]
    assert session.title == "asked while the disk was full"


def test_a_message_the_full_disk_cannot_keep_and_no_reply_came_for_is_given_back(on_tiny_disk):
    disk, session, _path = on_tiny_disk
    problems = []
    session.events.problem.connect(problems.append)
    disk.fill()
    session.begin(SEND, "asked while the disk was full")
    ended = session.abandon()
    assert ended.unsaved_user.content == "asked while the disk was full"  # the window puts it back
    assert problems[-1].startswith("No reply came and your message could not be saved (the disk is full (")
    assert session.messages == []
    assert session.why_not(SEND) == ""  # nothing waits to be saved: the next send may go


def test_a_regenerated_reply_on_a_full_disk_keeps_both(on_tiny_disk):
    disk, session, _path = on_tiny_disk
    session.begin(SEND, "q")
    session.commit(StoredMessage("assistant", "first"))
    session.begin(REGENERATE)
    disk.fill()
    session.commit(StoredMessage("assistant", LONG))
    shown = session.messages[-1]
    assert (shown.content, shown.version, shown.versions) == (LONG, 1, 2)
    assert session.store.messages(session.conversation_id)[-1].content == "first"
    disk.free()
    assert session.save_unsaved()
    assert [v.content for v in session.store.versions(shown.id)] == ["first", LONG]


def test_other_writes_on_a_full_disk_are_said_not_raised(on_tiny_disk):
    disk, session, _path = on_tiny_disk
    problems = []
    session.events.problem.connect(problems.append)
    session.rename("in use")  # not an empty new chat (Ctrl+N would show that one again)
    disk.fill()
    assert session.new() is None
    session.rename("renamed")
    assert problems[0].startswith("A new chat cannot be saved: the disk is full (")
    assert problems[1].startswith("Could not rename it: the disk is full (")


def test_a_full_disk_at_start_is_said_and_the_file_is_kept_as_it_is(tiny_disk):
    path = tiny_disk.root / "data" / "conversations.sqlite3"
    store = ChatStore(path)
    cid = store.create_conversation("kept")
    store.add_message(cid, StoredMessage("user", "hello"))
    store.close()
    tiny_disk.fill()
    assert "nothing new can be saved: the disk is full (" in describe(path)  # `specula doctor`
    store = ChatStore(path)
    assert store.notice is not None
    assert "the disk is full" in store.notice.message
    assert store.saving  # it will save once there is room
    assert sorted(p.name for p in path.parent.iterdir() if "damaged" in p.name) == []
    assert [m.content for m in store.messages(cid)] == ["hello"]  # readable
    with pytest.raises(StoreFullError):
        store.add_message(cid, StoredMessage("assistant", LONG))
    tiny_disk.free()
    store.add_message(cid, StoredMessage("assistant", "after"))  # writing resumes, in the file
    store.close()
    again = ChatStore(path)
    assert again.notice is None
    assert [m.content for m in again.messages(cid)] == ["hello", "after"]
    again.close()

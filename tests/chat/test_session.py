"""The chat session without Qt: one conversation shown, replies that commit where they began,
actions that say why they cannot run, and what each one replaces only once it commits."""

from __future__ import annotations

import pytest

from app.chat.reply import CONTINUE, EDIT, REGENERATE, SEND
from app.chat.session import DELETE, ChatSession, FixedPair
from app.chat.store import ChatStore, StoredMessage


@pytest.fixture
def session(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    s = ChatSession(store)
    s.open_latest_or_new()
    yield s
    store.close()


def answer(session: ChatSession, text: str, **stats) -> StoredMessage:
    return session.commit(StoredMessage("assistant", text, [[len(text), "main"]], stats or None))


def test_every_field_has_its_own_event(session):
    seen = []
    for name in ("conversation", "messages", "conversations", "reply"):
        getattr(session.events, name).connect(lambda *a, n=name: seen.append(n))
    session.models = FixedPair("m")
    session.begin(SEND, "hello")
    assert "reply" in seen
    assert "messages" in seen
    seen.clear()
    answer(session, "hi")
    assert {"reply", "messages", "conversations"} <= set(seen)
    assert "conversation" not in seen


def test_actions_say_why_they_cannot_run(session):
    assert session.why_not(SEND) == "Load a model first (Ctrl+L)"
    session.models = FixedPair("m")
    assert session.why_not(SEND) == ""
    assert "no reply to regenerate" in session.why_not(REGENERATE)
    assert "no reply to continue" in session.why_not(CONTINUE)
    assert "no message of yours" in session.why_not(EDIT)
    with pytest.raises(ValueError, match="Type a message"):
        session.begin(SEND, "   ")
    session.begin(SEND, "hello")
    assert "Wait for the reply" in session.why_not(SEND)
    assert "stop it first" in session.why_not(DELETE)


def test_a_reply_commits_in_its_own_conversation_while_another_is_shown(session):
    session.models = FixedPair("m")
    a = session.conversation_id
    session.begin(SEND, "question in A")
    b = session.new()  # the user goes on reading or writing elsewhere
    assert session.conversation_id == b
    assert session.replying_elsewhere
    assert "being written in “question in A”" in session.why_not(SEND)
    assert session.why_not(DELETE) == ""  # B can go; A cannot while it is replied to
    answer(session, "answer in A")
    assert session.conversation_id == b
    assert session.messages == []
    assert [m.content for m in session.store.messages(a)] == ["question in A", "answer in A"]
    assert session.store.conversation(a).model_key == "m"  # it remembers what it ran on
    session.open(a)
    assert session.title == "question in A"


def test_regenerate_keeps_the_old_reply_until_the_new_one_commits(session):
    session.models = FixedPair("m")
    session.begin(SEND, "q")
    answer(session, "first")
    reply = session.begin(REGENERATE)
    assert [m.content for m in reply.context] == ["q"]
    assert [m.content for m in session.store.messages(session.conversation_id)] == ["q", "first"]
    session.abandon()  # nothing came: nothing changes
    assert session.messages[-1].content == "first"
    assert session.messages[-1].versions == 1
    session.begin(REGENERATE)
    answer(session, "second")
    last = session.messages[-1]
    assert (last.content, last.version, last.versions) == ("second", 1, 2)
    session.select_version(last.id, 0)
    assert session.messages[-1].content == "first"


def test_edit_replaces_the_exchange_only_when_the_new_reply_commits(session):
    session.models = FixedPair("m")
    session.begin(SEND, "tpyo")
    answer(session, "what?")
    reply = session.begin(EDIT, "typo")
    assert [m.content for m in reply.context] == ["typo"]
    assert [m.content for m in session.store.messages(session.conversation_id)] == ["tpyo", "what?"]
    answer(session, "fixed")
    assert [m.content for m in session.messages] == ["typo", "fixed"]


def test_continue_updates_the_reply_in_place(session):
    session.models = FixedPair("m")
    session.begin(SEND, "q")
    first = answer(session, "one")
    reply = session.begin(CONTINUE)
    assert reply.target.id == first.id
    assert reply.context[-1].content == "one"
    answer(session, "one two")
    assert [m.content for m in session.messages] == ["q", "one two"]


def test_delete_can_be_undone(session):
    session.models = FixedPair("m")
    session.begin(SEND, "keep me")
    answer(session, "ok")
    gone = session.conversation_id
    deleted = []
    session.events.deleted.connect(lambda cid, title: deleted.append((cid, title)))
    session.delete()
    assert deleted == [(gone, "keep me")]
    assert session.conversation_id != gone
    session.undo_delete()
    assert session.conversation_id == gone
    assert [m.content for m in session.messages] == ["keep me", "ok"]


def test_new_chat_twice_is_one_empty_chat_not_a_pile(session):
    first = session.conversation_id
    assert session.new() == first  # the empty chat shown is the new chat
    session.models = FixedPair("m")
    session.begin(SEND, "hello")
    answer(session, "hi")
    second = session.new()
    assert second != first
    assert session.new() == second
    titles = [c.title for c in session.store.conversations()]
    assert titles.count("New chat") == 1
    session.open(first)
    assert session.new() == second  # an empty one elsewhere is shown rather than another made

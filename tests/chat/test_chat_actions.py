"""Why each chat action cannot run now, asked of the session alone (no window)."""

from __future__ import annotations

from app.chat.chat_actions import card_reasons, why_not
from app.chat.reply import SEND
from app.chat.session import ChatSession, FixedPair
from app.chat.store import ChatStore, StoredMessage


def test_each_action_says_why_it_cannot_run_until_it_can():
    store = ChatStore()
    s = ChatSession(store)
    s.new()
    assert why_not(s, "stop") == "No reply is being written"
    assert why_not(s, "regenerate") == "Load a model first (Ctrl+L)"
    assert why_not(s, "copy_last") == "There is no reply to copy yet"
    assert why_not(s, "new_chat") == ""
    assert why_not(s, "rename_chat") == ""
    s.models = FixedPair("main.gguf")
    assert why_not(s, "regenerate") == "There is no reply to regenerate yet"
    s.begin(SEND, "hello")
    assert why_not(s, "stop") == ""
    assert why_not(s, "delete_chat").startswith("A reply is being written here")
    s.commit(StoredMessage("assistant", "hi"))
    assert why_not(s, "regenerate") == ""
    assert why_not(s, "copy_last") == ""
    assert why_not(s, "next_version") == "The last reply has one version (Regenerate makes another)"
    assert card_reasons(s) == {"edit": "", "regenerate": "", "continue": "", "versions": ""}
    store.close()

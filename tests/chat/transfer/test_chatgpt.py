"""ChatGPT's export: the branch the user last saw, from the root to `current_node`; replies
regenerated on it are versions of one reply; an edited message's old branch and hidden
messages are left out; a conversations.json inside the export's .zip is found."""

from __future__ import annotations

import json
import zipfile

from app.chat.store import ChatStore
from app.chat.transfer.importing import import_paths
from app.chat.transfer.store_io import read_conversation
from tests.chat.transfer.conversations import chatgpt_conversation, gpt_node, write_json


def test_the_active_branch_comes_in_with_regenerations_as_versions(tmp_path):
    broken = {"title": "no tree", "mapping": {}}
    path = write_json(tmp_path / "conversations.json", [chatgpt_conversation(), broken])
    store = ChatStore(tmp_path / "c.sqlite3")
    summary = import_paths(store, [path])
    [imported] = summary.imported
    assert imported.source == "ChatGPT"
    assert [s.reason for s in summary.skipped] == ["“no tree”: its message tree has no root"]
    conv = read_conversation(store, imported.conversation_id)
    assert (conv.title, conv.created, conv.updated) == ("Sums", 1700000000.0, 1700000100.0)
    assert [(m.role, m.current.content) for m in conv.messages] == [
        ("user", "What is 2 + 2?"),
        ("assistant", "2 + 2 = 4."),
        ("user", "And 3 + 4?"),  # the edit on the branch, not the old "And 3 + 3?"
        ("assistant", "Seven."),
    ]
    regenerated = conv.messages[1]
    assert [v.content for v in regenerated.versions] == ["It is 4.", "2 + 2 = 4."]
    assert regenerated.shown == 1
    assert conv.settings is None  # the hidden system message is not a system prompt
    assert len(import_paths(store, [path]).already) == 1
    store.close()


def test_the_export_zip_is_read_and_without_current_node_the_latest_branch_is_taken(tmp_path):
    conv = chatgpt_conversation()
    del conv["current_node"]
    conv["mapping"]["sys"]["message"]["metadata"] = {}  # a visible system message
    conv["mapping"]["sys"]["message"]["content"]["parts"] = ["Be exact."]
    conv["mapping"]["b"]["children"] = ["tool"]
    conv["mapping"]["tool"] = gpt_node("tool", "b", ["after"], "assistant", "search('sums')")
    conv["mapping"]["tool"]["message"]["recipient"] = "browser"  # a call to a tool: not shown
    conv["mapping"]["after"] = gpt_node("after", "tool", [], "assistant", "Really seven.")
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("chat.html", "<html></html>")
        z.writestr("conversations.json", json.dumps([conv]))
    store = ChatStore(tmp_path / "c.sqlite3")
    [imported] = import_paths(store, [archive]).imported
    back = read_conversation(store, imported.conversation_id)
    assert back.settings == {"system_prompt": "Be exact."}
    assert [m.current.content for m in back.messages][-1] == "Seven.\n\nReally seven."  # one reply
    store.close()


def test_a_tree_whose_parents_loop_ends_the_walk(tmp_path):
    looped = {
        "title": "Looped",
        "mapping": {
            "a": gpt_node("a", "b", ["b"], "user", "Where does this end?"),
            "b": gpt_node("b", "a", ["a"], "assistant", "Here."),
        },
        "current_node": "b",
    }
    store = ChatStore(tmp_path / "c.sqlite3")
    [imported] = import_paths(store, [write_json(tmp_path / "conversations.json", [looped])]).imported
    back = read_conversation(store, imported.conversation_id)
    assert [m.current.content for m in back.messages] == ["Where does this end?", "Here."]
    store.close()

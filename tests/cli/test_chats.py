"""`specula chats`: list, export (one, several or all; Markdown, JSON, HTML, to a file or
stdout) and import (files and folders, a summary, exit 0 when something was imported)."""

from __future__ import annotations

import json
from pathlib import Path

from app.chat.store import ChatStore
from app.library.paths import data_dir
from tests.chat.transfer.conversations import lmstudio_conversation, rich_conversation, write_json


def test_list_export_and_import_back(run_cli, tmp_path):
    assert run_cli("chats", "list") == (0, "no conversations yet\n", "")
    store = ChatStore(data_dir() / "conversations.sqlite3")
    cid = rich_conversation(store)
    store.close()
    code, out, _ = run_cli("chats", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert (row["id"], row["title"], row["messages"]) == (cid, "What is the capital of France?", 4)
    code, out, _ = run_cli("chats", "list")
    assert out.split("\n")[0].endswith("4 messages  What is the capital of France?")

    code, out, err = run_cli("chats", "export", str(cid), "--out", str(tmp_path / "chat.md"))
    assert (code, err) == (0, f"exported 1 conversation to {tmp_path / 'chat.md'}\n")
    assert (tmp_path / "chat.md").read_text().startswith("# What is the capital of France?")
    code, out, _ = run_cli("chats", "export", "--all", "--format", "json", "--out", "-")
    assert json.loads(out)["conversations"][0]["title"] == "What is the capital of France?"
    assert run_cli("chats", "export", "--all", "--out", str(tmp_path / "all.html"))[0] == 0
    assert (tmp_path / "all.html").read_text().startswith("<!doctype html>")

    write_json(tmp_path / "export.json", json.loads(out))
    code, out, _ = run_cli("chats", "import", str(tmp_path / "export.json"))
    assert code == 0  # all of it already here: nothing to do, nothing wrong
    assert out.splitlines() == [
        "Imported 0 conversations (0 messages); 1 already here.",
        f"already here: What is the capital of France? ({tmp_path / 'export.json'})",
    ]


def test_import_says_what_came_in_and_what_was_skipped(run_cli, tmp_path):
    folder = tmp_path / "lms"
    write_json(folder / "1.conversation.json", lmstudio_conversation("Primes"))
    (folder / "2.conversation.json").write_text("not json")
    code, out, _ = run_cli("chats", "import", str(folder), "--json")
    assert code == 0
    summary = json.loads(out)
    assert [i["title"] for i in summary["imported"]] == ["Primes"]
    assert summary["imported"][0]["source"] == "LM Studio"
    assert summary["skipped"] == [
        {
            "path": str(folder / "2.conversation.json"),
            "reason": "it is not valid JSON (Expecting value at line 1, column 1)",
        }
    ]
    code, out, _ = run_cli("chats", "list", "--json")
    assert [r["title"] for r in json.loads(out)] == ["Primes"]
    code, out, _ = run_cli("chats", "import", str(folder / "2.conversation.json"))
    assert code == 1
    assert out.splitlines()[0] == "Imported 0 conversations (0 messages); 1 skipped."


def test_export_says_what_is_wrong(run_cli, tmp_path):
    assert run_cli("chats", "export", "--out", str(tmp_path / "x.md"))[2].startswith(
        "error: name the conversations to export"
    )
    store = ChatStore(data_dir() / "conversations.sqlite3")
    store.create_conversation("one")
    store.close()
    code, _, err = run_cli("chats", "export", "99", "--out", str(tmp_path / "x.md"))
    assert code == 1
    assert err == "error: there is no conversation 99 (see `specula chats list`)\n"
    assert not Path(tmp_path / "x.md").exists()

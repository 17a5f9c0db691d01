"""docs/conversation-format.md stays true: its example imports and leaves again as it was
written, and every field the export writes is described there."""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.chat.store import ChatStore
from app.chat.transfer.exporting import export
from app.chat.transfer.importing import import_paths
from tests.chat.transfer.conversations import rich_conversation

DOC = Path(__file__).resolve().parents[3] / "docs" / "conversation-format.md"


def example() -> str:
    [block] = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    return block


def described() -> set[str]:
    """Every `name` in the first column of the document's tables."""
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split(" | ")[0])}


def test_the_documented_example_imports_and_leaves_as_it_came(tmp_path):
    path = tmp_path / "example.json"
    path.write_text(example(), encoding="utf-8")
    store = ChatStore(tmp_path / "c.sqlite3")
    summary = import_paths(store, [path])
    [imported] = summary.imported
    assert (imported.title, imported.messages, summary.skipped) == ("What is the capital of France?", 2, [])
    out = tmp_path / "out.json"
    export(store, [imported.conversation_id], "json", out)
    store.close()
    assert json.loads(out.read_text())["conversations"] == json.loads(example())["conversations"]


def test_every_field_the_export_writes_is_described(tmp_path):
    store = ChatStore(tmp_path / "c.sqlite3")
    cid = rich_conversation(store)
    out = tmp_path / "out.json"
    export(store, [cid], "json", out)
    store.close()
    document = json.loads(out.read_text())
    written = set(document)
    for conv in document["conversations"]:
        written |= set(conv)
        for message in conv["messages"]:
            written |= set(message)
            for version in message["versions"]:
                written |= set(version) | set(version["stats"] or {})
    assert written - described() == set()

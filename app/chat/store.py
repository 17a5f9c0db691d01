"""Conversations, messages, token origins and stats in one SQLite file.

Each finished or stopped reply is committed on its own, so a crash loses at most the reply in
flight. Token origins are stored as runs, `[[n_chars, "main" | "draft"], ...]`, enough to
colour accepted draft tokens again when a conversation is reopened.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.library.paths import data_dir

SCHEMA_VERSION = 1
OriginRuns = list[list[Any]]  # [[n_chars, origin], ...]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    model_key TEXT
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    origins TEXT NOT NULL DEFAULT '[]',
    stats TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, position);
"""


@dataclass
class StoredMessage:
    role: str
    content: str
    origins: OriginRuns = field(default_factory=list)
    stats: dict[str, Any] | None = None
    id: int | None = None


@dataclass
class Conversation:
    id: int
    title: str
    updated: float
    model_key: str | None = None


def merge_runs(runs: Iterable[tuple[int, str]], into: OriginRuns | None = None) -> OriginRuns:
    """Append (n_chars, origin) runs, merging neighbours of the same origin."""
    out = into if into is not None else []
    for n, origin in runs:
        if n <= 0:
            continue
        if out and out[-1][1] == origin:
            out[-1][0] += n
        else:
            out.append([n, origin])
    return out


class ChatStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path))
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    # --- conversations -----------------------------------------------------------------------
    def create_conversation(self, title: str = "New chat", model_key: str | None = None) -> int:
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO conversations (title, created, updated, model_key) VALUES (?, ?, ?, ?)",
            (title, now, now, model_key),
        )
        self._db.commit()
        return int(cur.lastrowid or 0)

    def conversations(self, search: str = "") -> list[Conversation]:
        if search:
            like = f"%{search}%"
            rows = self._db.execute(
                "SELECT DISTINCT c.id, c.title, c.updated, c.model_key FROM conversations c "
                "LEFT JOIN messages m ON m.conversation_id = c.id "
                "WHERE c.title LIKE ? OR m.content LIKE ? ORDER BY c.updated DESC",
                (like, like),
            )
        else:
            rows = self._db.execute(
                "SELECT id, title, updated, model_key FROM conversations ORDER BY updated DESC"
            )
        return [Conversation(*row) for row in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        self._db.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (title.strip() or "Untitled", conversation_id)
        )
        self._db.commit()

    def delete(self, conversation_id: int) -> None:
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._db.commit()

    # --- messages ------------------------------------------------------------------------------
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._db.execute(
            "SELECT id, role, content, origins, stats FROM messages "
            "WHERE conversation_id = ? ORDER BY position",
            (conversation_id,),
        )
        return [
            StoredMessage(
                role, content, json.loads(origins or "[]"), json.loads(stats) if stats else None, mid
            )
            for mid, role, content, origins, stats in rows
        ]

    def add_message(self, conversation_id: int, message: StoredMessage) -> int:
        (position,) = self._db.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
        now = time.time()
        cur = self._db.execute(
            "INSERT INTO messages (conversation_id, position, role, content, origins, stats, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                position,
                message.role,
                message.content,
                json.dumps(message.origins),
                json.dumps(message.stats) if message.stats is not None else None,
                now,
            ),
        )
        self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        self._db.commit()
        message.id = int(cur.lastrowid or 0)
        return message.id

    def update_message(self, message: StoredMessage) -> None:
        self._db.execute(
            "UPDATE messages SET content = ?, origins = ?, stats = ? WHERE id = ?",
            (
                message.content,
                json.dumps(message.origins),
                json.dumps(message.stats) if message.stats is not None else None,
                message.id,
            ),
        )
        self._db.commit()

    def truncate_after(self, conversation_id: int, message_id: int, inclusive: bool = True) -> None:
        """Drop a message (and everything after it): edit-and-resend and regenerate."""
        (position,) = self._db.execute("SELECT position FROM messages WHERE id = ?", (message_id,)).fetchone()
        op = ">=" if inclusive else ">"
        self._db.execute(
            f"DELETE FROM messages WHERE conversation_id = ? AND position {op} ?", (conversation_id, position)
        )
        self._db.commit()

"""Conversations, messages, token origins and stats in one SQLite file.

Each finished or stopped reply is committed on its own, so a crash loses at most the reply in
flight. Token origins are stored as runs, `[[n_chars, "main" | "draft"], ...]`, enough to
colour accepted draft tokens again when a conversation is reopened.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.chat.store_recovery import StoreNotice, StoreUnusable, open_store
from app.core.errors import SpeculaError
from app.library.paths import data_dir

log = logging.getLogger(__name__)

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
CREATE TABLE IF NOT EXISTS damaged_conversations (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    note TEXT NOT NULL
);
"""
# Columns every query relies on: a database without them is not ours, and is set aside.
_COLUMNS = {
    "conversations": "id, title, created, updated, model_key",
    "messages": "id, conversation_id, position, role, content, origins, stats, created",
}


class ConversationUnreadableError(SpeculaError):
    """One conversation cannot be read (a damaged page): shown in its place, the rest works."""


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


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(_SCHEMA)
    for table, columns in _COLUMNS.items():
        try:
            db.execute(f"SELECT {columns} FROM {table} LIMIT 0")
        except sqlite3.OperationalError as exc:
            raise StoreUnusable("unreadable", f"not a Specula conversations file ({exc})") from None
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version < SCHEMA_VERSION:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.commit()


def _json(text: Any, kind: type) -> Any:
    """A stored JSON column of the given kind; empty (or None) when a damaged row holds
    something else."""
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError, RecursionError):
        value = None
    if isinstance(value, kind):
        return value
    return [] if kind is list else None


class ChatStore:
    """The conversations file. It always opens: see `store_recovery` for what happens to a file
    it cannot use; `notice` says what happened, `saving` whether anything is kept."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite3"
        opened = open_store(self.path, _prepare)
        self._db = opened.db
        self.notice: StoreNotice | None = opened.notice
        self.saving = opened.notice.saving if opened.notice else True

    def close(self) -> None:
        self._db.close()

    def damage_note(self, conversation_id: int) -> str | None:
        """Why a conversation recovered from a damaged file is incomplete, else None."""
        try:
            row = self._db.execute(
                "SELECT note FROM damaged_conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
        except sqlite3.DatabaseError:
            return None
        if not row:
            return None
        return f"This conversation was recovered from a damaged file: {row[0]}."

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
        """Newest first. A damaged page costs the conversations on it, never the list."""
        if not search:
            rows, _ok = _tolerant(
                self._db, "SELECT id, title, updated, model_key FROM conversations ORDER BY updated DESC"
            )
            return [Conversation(*row) for row in rows]
        like = f"%{search}%"
        rows, ok = _tolerant(
            self._db,
            "SELECT DISTINCT c.id, c.title, c.updated, c.model_key FROM conversations c "
            "LEFT JOIN messages m ON m.conversation_id = c.id "
            "WHERE c.title LIKE ? OR m.content LIKE ? ORDER BY c.updated DESC",
            (like, like),
        )
        if ok:
            return [Conversation(*row) for row in rows]
        return [c for c in self.conversations() if self._matches(c, like)]

    def _matches(self, conv: Conversation, like: str) -> bool:
        """One conversation at a time, so a damaged one does not hide the others from search."""
        if _like_text(like) in conv.title.lower():
            return True
        hit, _ok = _tolerant(
            self._db,
            "SELECT 1 FROM messages WHERE conversation_id = ? AND content LIKE ? LIMIT 1",
            (conv.id, like),
        )
        return bool(hit)

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
        try:
            rows = self._db.execute(
                "SELECT id, role, content, origins, stats FROM messages "
                "WHERE conversation_id = ? ORDER BY position",
                (conversation_id,),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ConversationUnreadableError(
                f"This conversation could not be read ({exc}); your other conversations are not affected."
            ) from None
        return [
            StoredMessage(str(role), str(content), _json(origins, list), _json(stats, dict), mid)
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


def _tolerant(
    db: sqlite3.Connection, sql: str, params: tuple[Any, ...] = ()
) -> tuple[list[tuple[Any, ...]], bool]:
    """Rows up to a damaged page, and whether the query finished."""
    out: list[tuple[Any, ...]] = []
    try:
        for row in db.execute(sql, params):
            out.append(tuple(row))
    except sqlite3.DatabaseError as exc:
        log.warning("conversations file: a query stopped at a damaged page (%s)", exc)
        return out, False
    return out, True


def _like_text(like: str) -> str:
    """The search text inside a LIKE pattern, lower-cased as SQLite's LIKE compares ASCII."""
    return like.strip("%").lower()

"""Conversations, messages, token origins and stats in one SQLite file.

Each finished or stopped reply is committed on its own, so a crash loses at most the reply in
flight; a regenerated reply or an edited exchange replaces the old one in the same
transaction that commits the new one, so until then the old one is intact. A write the disk
has no room for raises `StoreFullError` and changes nothing. Token origins are
stored as runs, `[[n_chars, "main" | "draft"], ...]`, enough to colour accepted draft tokens
again when a conversation is reopened. The tables and their migrations: `store_schema`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.chat.disk_space import disk_full
from app.chat.sqlite_rows import rows_until_damage
from app.chat.store_recovery import StoreNotice, StoreUnusable, classify, open_checked, open_store
from app.chat.store_schema import prepare
from app.chat.stored import (
    Conversation,
    ConversationUnreadableError,
    StoredMessage,
    StoreFullError,
    dump_json,
    load_json,
)
from app.library.paths import data_dir

log = logging.getLogger(__name__)


class ChatStore:
    """The conversations file. It always opens: see `store_recovery` for what happens to a file
    it cannot use; `notice` says what happened, `saving` whether anything is kept."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite3"
        opened = open_store(self.path, prepare)
        self._db = opened.db
        self.notice: StoreNotice | None = opened.notice
        self.saving = opened.notice.saving if opened.notice else True
        self._waiting_for_space = opened.waiting_for_space  # _db is a copy until the file opens

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction: all of it is stored, or (an error) none of it. A disk with no room
        is a StoreFullError, so the caller can keep what it wanted to store and try again."""
        if self._waiting_for_space:
            self._open_file_for_writing()
        try:
            with self._db:
                yield self._db
        except sqlite3.Error as exc:
            full = disk_full(self.path.parent)
            if classify(exc) == "full" or (full and isinstance(exc, sqlite3.OperationalError)):
                raise StoreFullError(full or "the disk is full") from exc
            raise

    def _open_file_for_writing(self) -> None:
        """The file could not be opened on a full disk: open it now, or say it still cannot be.
        Nothing was written to the copy in memory meanwhile, so the file holds all of it."""
        try:
            db = open_checked(self.path, prepare)
        except (sqlite3.Error, StoreUnusable) as exc:
            raise StoreFullError(disk_full(self.path.parent) or f"the disk is full ({exc})") from exc
        self._db.close()
        self._db = db
        self._waiting_for_space = False

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for reading (app/chat/transfer reads whole conversations); every
        write goes through `writing()`."""
        return self._db

    @property
    def schema_version(self) -> int:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        return int(version)

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
    def create_conversation(
        self,
        title: str = "New chat",
        model_key: str | None = None,
        draft_key: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> int:
        now = time.time()
        with self.writing() as db:
            cur = db.execute(
                "INSERT INTO conversations (title, created, updated, model_key, draft_key, settings) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (title, now, now, model_key, draft_key, dump_json(settings)),
            )
        return int(cur.lastrowid or 0)

    def conversations(self, search: str = "") -> list[Conversation]:
        """Newest first, without those deleted (and not undone). A damaged page costs the
        conversations on it, never the list."""
        columns = "c.id, c.title, c.updated, c.model_key, c.draft_key, c.settings"
        if not search:
            rows, _ok = rows_until_damage(
                self._db,
                f"SELECT {columns} FROM conversations c WHERE c.deleted IS NULL ORDER BY c.updated DESC",
            )
            return [_conversation(row) for row in rows]
        like = f"%{search}%"
        rows, ok = rows_until_damage(
            self._db,
            f"SELECT DISTINCT {columns} FROM conversations c "
            "LEFT JOIN messages m ON m.conversation_id = c.id "
            "WHERE c.deleted IS NULL AND (c.title LIKE ? OR m.content LIKE ?) ORDER BY c.updated DESC",
            (like, like),
        )
        if ok:
            return [_conversation(row) for row in rows]
        return [c for c in self.conversations() if self._matches(c, like)]

    def conversation(self, conversation_id: int) -> Conversation | None:
        """One conversation (None when deleted or unknown)."""
        rows, _ok = rows_until_damage(
            self._db,
            "SELECT id, title, updated, model_key, draft_key, settings FROM conversations "
            "WHERE id = ? AND deleted IS NULL",
            (conversation_id,),
        )
        return _conversation(rows[0]) if rows else None

    def _matches(self, conv: Conversation, like: str) -> bool:
        """One conversation at a time, so a damaged one does not hide the others from search."""
        if _like_text(like) in conv.title.lower():
            return True
        hit, _ok = rows_until_damage(
            self._db,
            "SELECT 1 FROM messages WHERE conversation_id = ? AND content LIKE ? LIMIT 1",
            (conv.id, like),
        )
        return bool(hit)

    def rename(self, conversation_id: int, title: str) -> None:
        with self.writing() as db:
            db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (title.strip() or "Untitled", conversation_id),
            )

    def remember_setup(
        self,
        conversation_id: int,
        model_key: str | None,
        draft_key: str | None,
        settings: dict[str, Any] | None,
    ) -> None:
        """What this conversation runs on: offered again when it is reopened."""
        with self.writing() as db:
            db.execute(
                "UPDATE conversations SET model_key = ?, draft_key = ?, settings = ? WHERE id = ?",
                (model_key, draft_key, dump_json(settings), conversation_id),
            )

    def delete(self, conversation_id: int) -> None:
        """Marked deleted: hidden at once, restorable with `undelete` until the file is next
        opened (or `purge_deleted`)."""
        with self.writing() as db:
            db.execute("UPDATE conversations SET deleted = ? WHERE id = ?", (time.time(), conversation_id))

    def undelete(self, conversation_id: int) -> None:
        with self.writing() as db:
            db.execute("UPDATE conversations SET deleted = NULL WHERE id = ?", (conversation_id,))

    def purge_deleted(self) -> None:
        with self.writing() as db:
            db.execute("DELETE FROM conversations WHERE deleted IS NOT NULL")

    # --- messages ------------------------------------------------------------------------------
    def messages(self, conversation_id: int) -> list[StoredMessage]:
        try:
            rows = self._db.execute(
                "SELECT m.id, m.role, m.content, m.origins, m.stats, m.version, "
                "(SELECT COUNT(*) FROM message_versions v WHERE v.message_id = m.id) "
                "FROM messages m WHERE m.conversation_id = ? ORDER BY m.position",
                (conversation_id,),
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise ConversationUnreadableError(
                f"This conversation could not be read ({exc}); your other conversations are not affected."
            ) from None
        return [
            StoredMessage(
                str(role),
                str(content),
                load_json(origins, list),
                load_json(stats, dict),
                mid,
                version=int(version or 0),
                versions=max(1, int(n or 0)),
            )
            for mid, role, content, origins, stats, version, n in rows
        ]

    def _insert(self, conversation_id: int, message: StoredMessage, now: float) -> int:
        (position,) = self._db.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE conversation_id = ?",
            (conversation_id,),
        ).fetchone()
        cur = self._db.execute(
            "INSERT INTO messages (conversation_id, position, role, content, origins, stats, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                position,
                message.role,
                message.content,
                json.dumps(message.origins),
                dump_json(message.stats),
                now,
            ),
        )
        self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        message.id = int(cur.lastrowid or 0)
        message.version, message.versions = 0, 1
        return message.id

    def add_message(self, conversation_id: int, message: StoredMessage, title: str | None = None) -> int:
        """A message (with the conversation's first title, when it gets one), in one transaction."""
        with self.writing() as db:
            if title is not None:
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            return self._insert(conversation_id, message, time.time())

    def add_exchange(
        self, conversation_id: int, user: StoredMessage, reply: StoredMessage, title: str | None = None
    ) -> None:
        """A message and its reply in one transaction (the message could not be stored when it
        was sent), with the conversation's first title when it gets one."""
        now = time.time()
        with self.writing() as db:
            if title is not None:
                db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            self._insert(conversation_id, user, now)
            self._insert(conversation_id, reply, now)

    def update_message(self, message: StoredMessage) -> None:
        """A reply grown in place (Continue): the version shown changes with it."""
        with self.writing():
            self._db.execute(
                "UPDATE messages SET content = ?, origins = ?, stats = ? WHERE id = ?",
                (message.content, json.dumps(message.origins), dump_json(message.stats), message.id),
            )
            self._db.execute(
                "UPDATE message_versions SET content = ?, origins = ?, stats = ? "
                "WHERE message_id = ? AND position = (SELECT version FROM messages WHERE id = ?)",
                (
                    message.content,
                    json.dumps(message.origins),
                    dump_json(message.stats),
                    message.id,
                    message.id,
                ),
            )

    # --- versions of a reply ----------------------------------------------------------------------
    def add_version(self, message: StoredMessage, new: StoredMessage) -> None:
        """A regenerated reply, committed in one transaction: it becomes the version shown and
        the earlier ones stay, to page through. Until it commits, the old reply is untouched."""
        assert message.id is not None
        now = time.time()
        with self.writing():
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM message_versions WHERE message_id = ?", (message.id,)
            ).fetchone()
            if count == 0:  # the first regenerate: the reply so far becomes version 0
                self._db.execute(
                    "INSERT INTO message_versions (message_id, position, content, origins, stats, created) "
                    "SELECT id, 0, content, origins, stats, created FROM messages WHERE id = ?",
                    (message.id,),
                )
                count = 1
            self._db.execute(
                "INSERT INTO message_versions (message_id, position, content, origins, stats, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message.id, count, new.content, json.dumps(new.origins), dump_json(new.stats), now),
            )
            self._db.execute(
                "UPDATE messages SET content = ?, origins = ?, stats = ?, version = ? WHERE id = ?",
                (new.content, json.dumps(new.origins), dump_json(new.stats), count, message.id),
            )
            self._touch(message.id, now)
        new.id, new.version, new.versions = message.id, count, count + 1

    def select_version(self, message_id: int, version: int) -> None:
        """Show another version of a reply (it is what the next reply reads, too)."""
        with self.writing():
            row = self._db.execute(
                "SELECT content, origins, stats FROM message_versions WHERE message_id = ? AND position = ?",
                (message_id, version),
            ).fetchone()
            if row is None:
                return
            self._db.execute(
                "UPDATE messages SET content = ?, origins = ?, stats = ?, version = ? WHERE id = ?",
                (*row, version, message_id),
            )

    def versions(self, message_id: int) -> list[StoredMessage]:
        """Every version of a reply, oldest first (just the reply when it has one)."""
        rows = self._db.execute(
            "SELECT v.content, v.origins, v.stats, m.role FROM message_versions v "
            "JOIN messages m ON m.id = v.message_id WHERE v.message_id = ? ORDER BY v.position",
            (message_id,),
        ).fetchall()
        if not rows:
            rows = self._db.execute(
                "SELECT content, origins, stats, role FROM messages WHERE id = ?", (message_id,)
            ).fetchall()
        n = len(rows)
        return [
            StoredMessage(str(role), str(c), load_json(o, list), load_json(s, dict), message_id, i, n)
            for i, (c, o, s, role) in enumerate(rows)
        ]

    def replace_exchange(self, user: StoredMessage, text: str, reply: StoredMessage) -> None:
        """Edit and resend, committed once the new reply exists: the user's message takes the
        new text and everything after it gives way to the new reply, in one transaction."""
        assert user.id is not None
        now = time.time()
        with self.writing():
            row = self._db.execute(
                "SELECT conversation_id, position FROM messages WHERE id = ?", (user.id,)
            ).fetchone()
            if row is None:
                raise ConversationUnreadableError("the message being edited is gone")
            cid, position = row
            self._db.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND position > ?", (cid, position)
            )
            self._db.execute("UPDATE messages SET content = ? WHERE id = ?", (text, user.id))
            self._insert(cid, reply, now)
        user.content = text

    def _touch(self, message_id: int, now: float) -> None:
        self._db.execute(
            "UPDATE conversations SET updated = ? "
            "WHERE id = (SELECT conversation_id FROM messages WHERE id = ?)",
            (now, message_id),
        )

    def truncate_after(self, conversation_id: int, message_id: int, inclusive: bool = True) -> None:
        """Drop a message (and everything after it)."""
        op = ">=" if inclusive else ">"
        with self.writing() as db:
            (position,) = db.execute("SELECT position FROM messages WHERE id = ?", (message_id,)).fetchone()
            db.execute(
                f"DELETE FROM messages WHERE conversation_id = ? AND position {op} ?",
                (conversation_id, position),
            )


def _conversation(row: tuple[Any, ...]) -> Conversation:
    cid, title, updated, model_key, draft_key, settings = row
    return Conversation(cid, title, updated, model_key, draft_key, load_json(settings, dict))


def _like_text(like: str) -> str:
    """The search text inside a LIKE pattern, lower-cased as SQLite's LIKE compares ASCII."""
    return like.strip("%").lower()

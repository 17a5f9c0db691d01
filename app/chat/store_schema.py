"""The conversations file's tables, and the migrations that bring an older file up to date.

A migration runs in one transaction with the version bump (SQLite's DDL is transactional), so
a file is either wholly at the old version or wholly at the new one, whatever happens midway.

Versions:
1. conversations and messages, token origins and stats per message.
2. what each conversation runs on (`model_key` is filled now, `draft_key`, `settings`); a
   deleted conversation is only marked (`deleted`) until the undo has passed; the versions
   of a reply (`message_versions`, and `messages.version`, the one shown).
3. what each imported conversation was imported from (`imports`: a fingerprint of its content),
   so importing the same file again is recognised.
"""

from __future__ import annotations

import sqlite3

from app.chat.store_recovery import StoreUnusable

SCHEMA_VERSION = 3

_TABLES = """
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
# Added by version 2, to a table that may be older.
_ADDED_COLUMNS = {
    "conversations": (("draft_key", "TEXT"), ("settings", "TEXT"), ("deleted", "REAL")),
    "messages": (("version", "INTEGER NOT NULL DEFAULT 0"),),
}
_VERSION_2 = """
CREATE TABLE IF NOT EXISTS message_versions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    content TEXT NOT NULL,
    origins TEXT NOT NULL DEFAULT '[]',
    stats TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (message_id, position)
);
"""
_VERSION_3 = """
CREATE TABLE IF NOT EXISTS imports (
    fingerprint TEXT PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    imported REAL NOT NULL
);
"""


def prepare(db: sqlite3.Connection) -> None:
    """Pragmas, tables, migrations; then forget conversations deleted in an earlier session
    (their undo has passed)."""
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(_TABLES)
    for table, columns in _COLUMNS.items():
        try:
            db.execute(f"SELECT {columns} FROM {table} LIMIT 0")
        except sqlite3.OperationalError as exc:
            raise StoreUnusable("unreadable", f"not a Specula conversations file ({exc})") from None
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version < SCHEMA_VERSION:
        migrate(db)
    db.execute("DELETE FROM conversations WHERE deleted IS NOT NULL")
    db.commit()


def migrate(db: sqlite3.Connection) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction (all of it, or none of it)."""
    db.commit()
    db.execute("BEGIN IMMEDIATE")
    try:
        for table, added in _ADDED_COLUMNS.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, decl in added:
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
        db.execute(_VERSION_2.strip().rstrip(";"))
        db.execute(_VERSION_3.strip().rstrip(";"))
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise

"""Copying what can still be read out of a damaged conversations file into a fresh one.

SQLite stops a query at the first damaged page, so each table is read from both ends; a
conversation whose messages (or own row) could not all be read is marked, with what was lost.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from app.chat.sqlite_rows import rows_until_damage


@dataclass
class Salvage:
    conversations: int = 0
    messages: int = 0
    damaged: dict[int, str] = field(default_factory=dict)  # conversation id -> what was lost


def _scan(db: sqlite3.Connection, columns: str, table: str) -> tuple[list[tuple[Any, ...]], bool]:
    """Every readable row of a table, read from both ends past a damaged page (rowid first)."""
    head, ok = rows_until_damage(db, f"SELECT rowid, {columns} FROM {table} NOT INDEXED ORDER BY rowid")
    if ok:
        return head, True
    tail, _ = rows_until_damage(db, f"SELECT rowid, {columns} FROM {table} NOT INDEXED ORDER BY rowid DESC")
    merged = {r[0]: r for r in head + tail}
    return [merged[k] for k in sorted(merged)], False


def _text(value: Any, default: str = "") -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else default


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else time.time()


def salvage(src: sqlite3.Connection, dest: sqlite3.Connection) -> Salvage:
    """Copy every conversation and message that can be read from `src` into `dest` (ids kept);
    conversations missing messages (or their own row) are marked damaged in `dest`."""
    report = Salvage()
    convs, _ = _scan(src, "id, title, created, updated, model_key", "conversations")
    msgs, all_messages = _scan(
        src, "id, conversation_id, position, role, content, origins, stats, created", "messages"
    )
    by_conv: dict[int, list[tuple[Any, ...]]] = {}
    for row in msgs:
        if isinstance(row[2], int):
            by_conv.setdefault(row[2], []).append(row)
    conv_rows = {int(r[1]): r for r in convs if isinstance(r[1], int)}
    for orphan in set(by_conv) - set(conv_rows):
        conv_rows[orphan] = (None, orphan, "Recovered conversation", None, None, None)
        report.damaged[orphan] = "its title was lost"
    with dest:
        for cid, (_rowid, _id, title, created, updated, model_key) in sorted(conv_rows.items()):
            dest.execute(
                "INSERT OR REPLACE INTO conversations (id, title, created, updated, model_key) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    cid,
                    _text(title, "Recovered conversation"),
                    _number(created),
                    _number(updated),
                    _text(model_key) or None,
                ),
            )
            rows = sorted(by_conv.get(cid, []), key=lambda r: (r[3] if isinstance(r[3], int) else 0, r[1]))
            for _r, mid, _c, position, role, content, origins, stats, mcreated in rows:
                dest.execute(
                    "INSERT OR REPLACE INTO messages "
                    "(id, conversation_id, position, role, content, origins, stats, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        mid,
                        cid,
                        position if isinstance(position, int) else 0,
                        _text(role, "user"),
                        _text(content),
                        _text(origins, "[]") or "[]",
                        _text(stats) or None,
                        _number(mcreated),
                    ),
                )
            report.messages += len(rows)
            if not all_messages:
                missing = _missing(src, cid, {r[1] for r in rows})
                if missing != 0:
                    report.damaged.setdefault(
                        cid,
                        "some of its messages may be missing"
                        if missing is None
                        else f"{missing} of its messages could not be recovered",
                    )
        for cid, note in report.damaged.items():
            dest.execute(
                "INSERT OR REPLACE INTO damaged_conversations (conversation_id, note) VALUES (?, ?)",
                (cid, note),
            )
        _copy_version_two(src, dest, set(conv_rows))
    report.conversations = len(conv_rows)
    return report


def _copy_version_two(src: sqlite3.Connection, dest: sqlite3.Connection, kept: set[int]) -> None:
    """What a version-2 file adds (each conversation's setup, the versions of replies), as far
    as it can be read; a version-1 file has none of it."""
    setups, _ = rows_until_damage(
        src, "SELECT id, draft_key, settings, deleted FROM conversations NOT INDEXED"
    )
    for cid, draft_key, settings, deleted in setups:
        if cid in kept:
            dest.execute(
                "UPDATE conversations SET draft_key = ?, settings = ?, deleted = ? WHERE id = ?",
                (
                    _text(draft_key) or None,
                    _text(settings) or None,
                    deleted if _is_number(deleted) else None,
                    cid,
                ),
            )
    shown, _ = rows_until_damage(src, "SELECT id, version FROM messages NOT INDEXED")
    for mid, version in shown:
        if isinstance(version, int):
            dest.execute("UPDATE messages SET version = ? WHERE id = ?", (version, mid))
    versions, _ = rows_until_damage(
        src, "SELECT message_id, position, content, origins, stats, created FROM message_versions NOT INDEXED"
    )
    present = {r[0] for r in dest.execute("SELECT id FROM messages")}
    for mid, position, content, origins, stats, created in versions:
        if mid in present and isinstance(position, int):
            dest.execute(
                "INSERT OR REPLACE INTO message_versions "
                "(message_id, position, content, origins, stats, created) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    mid,
                    position,
                    _text(content),
                    _text(origins, "[]") or "[]",
                    _text(stats) or None,
                    _number(created),
                ),
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _missing(src: sqlite3.Connection, cid: int, recovered: set[Any]) -> int | None:
    """How many messages the index names beyond those recovered; None when it cannot tell."""
    ids, ok = rows_until_damage(src, "SELECT id FROM messages WHERE conversation_id = ?", (cid,))
    return len({r[0] for r in ids} - recovered) if ok else None

"""Whole conversations in and out of the conversations file: read with every version of every
reply, written in one transaction per import (all of it, or none of it), each recorded with its
fingerprint so that importing it again is recognised while it is there."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from app.chat.store import ChatStore
from app.chat.stored import dump_json, load_json
from app.chat.transfer.portable import PortableConversation, PortableMessage, PortableVersion


def read_conversation(store: ChatStore, conversation_id: int) -> PortableConversation | None:
    """A conversation with every version of every message (None when deleted or unknown)."""
    db = store.db
    row = db.execute(
        "SELECT id, title, created, updated, model_key, draft_key, settings FROM conversations "
        "WHERE id = ? AND deleted IS NULL",
        (conversation_id,),
    ).fetchone()
    if row is None:
        return None
    cid, title, created, updated, model_key, draft_key, settings = row
    versions: dict[int, list[PortableVersion]] = {}
    for mid, content, origins, stats, vcreated in db.execute(
        "SELECT v.message_id, v.content, v.origins, v.stats, v.created FROM message_versions v "
        "JOIN messages m ON m.id = v.message_id WHERE m.conversation_id = ? "
        "ORDER BY v.message_id, v.position",
        (cid,),
    ):
        versions.setdefault(mid, []).append(
            PortableVersion(str(content), load_json(origins, list), load_json(stats, dict), vcreated)
        )
    messages: list[PortableMessage] = []
    for mid, role, content, origins, stats, mcreated, shown in db.execute(
        "SELECT id, role, content, origins, stats, created, version FROM messages "
        "WHERE conversation_id = ? ORDER BY position",
        (cid,),
    ):
        own = versions.get(mid)
        if own and 0 <= int(shown or 0) < len(own):
            messages.append(PortableMessage(str(role), own, int(shown or 0)))
        else:
            current = PortableVersion(
                str(content), load_json(origins, list), load_json(stats, dict), mcreated
            )
            messages.append(PortableMessage(str(role), [current]))
    return PortableConversation(
        str(title),
        messages,
        created,
        updated,
        model_key,
        draft_key,
        load_json(settings, dict),
        id=cid,
    )


def imported_as(store: ChatStore, fingerprint: str) -> int | None:
    """The conversation an earlier import of the same content became, while it is there."""
    row = store.db.execute(
        "SELECT i.conversation_id FROM imports i JOIN conversations c ON c.id = i.conversation_id "
        "WHERE i.fingerprint = ? AND c.deleted IS NULL",
        (fingerprint,),
    ).fetchone()
    return int(row[0]) if row else None


def same_as_existing(store: ChatStore, conv: PortableConversation) -> int | None:
    """A conversation here that says exactly what `conv` says (our own export imported back)."""
    probe = conv.fingerprint("")
    for (cid,) in store.db.execute(
        "SELECT c.id FROM conversations c WHERE c.title = ? AND c.deleted IS NULL "
        "AND (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) = ?",
        (conv.title, conv.message_count),
    ).fetchall():
        here = read_conversation(store, int(cid))
        if here is not None and here.fingerprint("") == probe:
            return int(cid)
    return None


def write_conversations(store: ChatStore, items: Iterable[tuple[PortableConversation, str]]) -> list[int]:
    """Store conversations with their fingerprints in one transaction; their new ids."""
    now = time.time()
    ids: list[int] = []
    with store.writing() as db:
        for conv, fingerprint in items:
            cid = _insert_conversation(db, conv, now)
            db.execute(
                "INSERT OR REPLACE INTO imports (fingerprint, conversation_id, source, imported) "
                "VALUES (?, ?, ?, ?)",
                (fingerprint, cid, fingerprint.split(":", 1)[0], now),
            )
            conv.id = cid
            ids.append(cid)
    return ids


def _insert_conversation(db: sqlite3.Connection, conv: PortableConversation, now: float) -> int:
    created = conv.created if conv.created is not None else now
    updated = conv.updated if conv.updated is not None else created
    cur = db.execute(
        "INSERT INTO conversations (title, created, updated, model_key, draft_key, settings) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (conv.title, created, updated, conv.model_key, conv.draft_key, dump_json(conv.settings)),
    )
    cid = int(cur.lastrowid or 0)
    message_rows = []
    for position, m in enumerate(conv.messages):
        v = m.current
        message_rows.append(
            (
                cid,
                position,
                m.role,
                v.content,
                json.dumps(v.origins),
                dump_json(v.stats),
                v.created if v.created is not None else updated,
                m.shown if len(m.versions) > 1 else 0,
            )
        )
    db.executemany(
        "INSERT INTO messages (conversation_id, position, role, content, origins, stats, created, version) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        message_rows,
    )
    several = [(position, m) for position, m in enumerate(conv.messages) if len(m.versions) > 1]
    if several:
        ids = dict(
            db.execute("SELECT position, id FROM messages WHERE conversation_id = ?", (cid,)).fetchall()
        )
        db.executemany(
            "INSERT INTO message_versions (message_id, position, content, origins, stats, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    ids[position],
                    i,
                    v.content,
                    json.dumps(v.origins),
                    dump_json(v.stats),
                    v.created if v.created is not None else updated,
                )
                for position, m in several
                for i, v in enumerate(m.versions)
            ],
        )
    return cid


def conversation_list(store: ChatStore) -> list[tuple[int, str, int, float]]:
    """(id, title, messages, updated) of every conversation, newest first."""
    rows = store.db.execute(
        "SELECT c.id, c.title, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id), c.updated "
        "FROM conversations c WHERE c.deleted IS NULL ORDER BY c.updated DESC"
    ).fetchall()
    return [(int(i), str(t), int(n), float(u)) for i, t, n, u in rows]

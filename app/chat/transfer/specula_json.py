"""Our own JSON format: every conversation with every version of every message, token origins,
rounds and rejected drafts (inside each version's stats), stats, settings and the pair it ran
on; what import reads back without losing anything. Described in docs/conversation-format.md.

A document of a newer schema is refused (it may hold what this version would drop); one
conversation that does not match the format is skipped with its reason, never the others.
"""

from __future__ import annotations

import json
import time
from typing import Any

from app import __version__
from app.chat.transfer.portable import ROLES, PortableConversation, PortableMessage, PortableVersion
from app.core.errors import SpeculaError

FORMAT = "specula.conversations"
SCHEMA_VERSION = 1
SOURCE = "Specula"


class FormatError(SpeculaError):
    """A file (or one conversation in it) is not what its format says."""


def to_document(conversations: list[PortableConversation]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "app_version": __version__,
        "exported": time.time(),
        "conversations": [_conversation(c) for c in conversations],
    }


def _conversation(c: PortableConversation) -> dict[str, Any]:
    return {
        "title": c.title,
        "created": c.created,
        "updated": c.updated,
        "model_key": c.model_key,
        "draft_key": c.draft_key,
        "settings": c.settings,
        "messages": [
            {
                "role": m.role,
                "shown": m.shown,
                "versions": [
                    {"content": v.content, "origins": v.origins, "stats": v.stats, "created": v.created}
                    for v in m.versions
                ],
            }
            for m in c.messages
        ],
    }


def dumps(conversations: list[PortableConversation]) -> str:
    """The document as text, one message per line: readable, and written by json's C encoder
    (an indented dump goes through its Python one, several times slower)."""
    document = to_document(conversations)
    items = document.pop("conversations")
    out = [json.dumps(document, ensure_ascii=False)[:-1] + ', "conversations": [']
    for i, item in enumerate(items):
        messages = item.pop("messages")
        head = json.dumps(item, ensure_ascii=False)[:-1] + ', "messages": ['
        body = ",\n".join(json.dumps(m, ensure_ascii=False) for m in messages)
        out.append(head + ("\n" + body + "\n" if body else "") + "]}" + ("," if i < len(items) - 1 else ""))
    out.append("]}")
    return "\n".join(out) + "\n"


def is_ours(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == FORMAT


def from_document(document: dict[str, Any]) -> tuple[list[PortableConversation], list[str]]:
    """The conversations a document holds, and why any of them was skipped."""
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormatError("its schema_version is missing")
    if version > SCHEMA_VERSION:
        raise FormatError(
            f"it was written by a newer Specula (schema {version}; this one reads up to "
            f"{SCHEMA_VERSION}): update Specula to import it"
        )
    items = document.get("conversations")
    if not isinstance(items, list):
        raise FormatError("it holds no list of conversations")
    out: list[PortableConversation] = []
    skipped: list[str] = []
    for index, item in enumerate(items):
        try:
            out.append(_read_conversation(item))
        except FormatError as exc:
            title = item.get("title") if isinstance(item, dict) else None
            name = f"“{title}”" if isinstance(title, str) else f"conversation {index + 1}"
            skipped.append(f"{name}: {exc}")
    return out, skipped


def _read_conversation(item: Any) -> PortableConversation:
    if not isinstance(item, dict):
        raise FormatError("not an object")
    title = _text(item, "title")
    messages_raw = item.get("messages")
    if not isinstance(messages_raw, list):
        raise FormatError("its messages are not a list")
    messages = [_read_message(m, i) for i, m in enumerate(messages_raw)]
    settings = item.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise FormatError("its settings are not an object")
    return PortableConversation(
        title or "Imported conversation",
        messages,
        _time(item.get("created")),
        _time(item.get("updated")),
        _optional_text(item, "model_key"),
        _optional_text(item, "draft_key"),
        settings,
    )


def _read_message(item: Any, index: int) -> PortableMessage:
    where = f"message {index + 1}"
    if not isinstance(item, dict):
        raise FormatError(f"{where} is not an object")
    role = item.get("role")
    if role not in ROLES:
        raise FormatError(f"{where} has the role {role!r} (expected one of {', '.join(ROLES)})")
    raw = item.get("versions")
    if not isinstance(raw, list) or not raw:
        raise FormatError(f"{where} has no versions")
    versions = [_read_version(v, f"{where}, version {i + 1}") for i, v in enumerate(raw)]
    shown = item.get("shown", 0)
    if not isinstance(shown, int) or isinstance(shown, bool) or not 0 <= shown < len(versions):
        raise FormatError(f"{where} shows version {shown!r} of {len(versions)}")
    return PortableMessage(str(role), versions, shown)


def _read_version(item: Any, where: str) -> PortableVersion:
    if not isinstance(item, dict) or not isinstance(item.get("content"), str):
        raise FormatError(f"{where} has no text")
    origins = item.get("origins") or []
    if not isinstance(origins, list) or not all(
        isinstance(r, list)
        and len(r) == 2
        and isinstance(r[0], int)
        and not isinstance(r[0], bool)
        and r[0] >= 0
        and isinstance(r[1], str)
        for r in origins
    ):
        raise FormatError(f"{where} has token origins that are not [characters, origin] pairs")
    stats = item.get("stats")
    if stats is not None and not isinstance(stats, dict):
        raise FormatError(f"{where} has stats that are not an object")
    return PortableVersion(item["content"], origins, stats, _time(item.get("created")))


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FormatError(f"its {key} is not text")
    return value


def _optional_text(item: dict[str, Any], key: str) -> str | None:
    return _text(item, key) or None


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

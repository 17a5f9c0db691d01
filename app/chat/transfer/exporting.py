"""Exporting conversations: read from the conversations file with every version, written as
Markdown, our JSON or HTML to a file (atomically: a failed export leaves no half file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from app.chat.store import ChatStore
from app.chat.transfer.html_export import html_document
from app.chat.transfer.markdown_export import markdown_document
from app.chat.transfer.portable import PortableConversation
from app.chat.transfer.specula_json import FormatError, dumps
from app.chat.transfer.store_io import read_conversation
from app.library.atomic import write_text_atomic

FORMATS = {"md": "Markdown", "json": "JSON", "html": "HTML"}


def read_conversations(store: ChatStore, ids: Sequence[int] | None = None) -> list[PortableConversation]:
    """The conversations named (all of them, oldest first, when None); FormatError for an id
    that is not there."""
    if ids is None:
        ids = [c.id for c in reversed(store.conversations())]
    out: list[PortableConversation] = []
    for cid in ids:
        conv = read_conversation(store, cid)
        if conv is None:
            raise FormatError(f"there is no conversation {cid} (see `specula chats list`)")
        out.append(conv)
    return out


def render(conversations: list[PortableConversation], fmt: str) -> str:
    if fmt == "md":
        return markdown_document(conversations)
    if fmt == "json":
        return dumps(conversations)
    if fmt == "html":
        return html_document(conversations)
    raise FormatError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def format_of(path: Path, default: str = "md") -> str:
    """The format a file name asks for (.md, .markdown, .json, .html, .htm)."""
    suffix = path.suffix.lower().lstrip(".")
    return {"markdown": "md", "htm": "html"}.get(suffix, suffix) if suffix else default


def export(store: ChatStore, ids: Sequence[int] | None, fmt: str, out: Path) -> list[PortableConversation]:
    """Write the conversations to `out`; the conversations written."""
    conversations = read_conversations(store, ids)
    write_text_atomic(out, render(conversations, fmt))
    return conversations

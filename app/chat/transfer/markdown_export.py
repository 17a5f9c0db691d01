"""A conversation as Markdown: the versions shown, who wrote each reply (model and draft), and
the stats line under it, as the chat shows them. For reading and sharing, not for import (our
JSON keeps everything)."""

from __future__ import annotations

import time

from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import stats_line
from app.chat.transfer.portable import PortableConversation, PortableMessage

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}


def when(seconds: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else ""


def author(message: PortableMessage, stats: ReplyStats | None) -> str:
    """'You', or the reply's model and draft ('Gemma 3 270M + Gemma 3 270M Q4_K_M')."""
    if message.role != "assistant" or stats is None or not stats.model_name:
        return ROLE_NAMES.get(message.role, message.role)
    return f"{stats.model_name} + {stats.drafts_label}" if stats.with_draft else stats.model_name


def version_note(message: PortableMessage) -> str:
    n = len(message.versions)
    return f"version {message.shown + 1} of {n}" if n > 1 else ""


def conversation_markdown(conv: PortableConversation) -> str:
    out = [f"# {conv.title}", ""]
    facts = [f"{conv.message_count} messages"]
    if conv.updated:
        facts.append(f"last written {when(conv.updated)}")
    out += [" · ".join(facts), ""]
    system = (conv.settings or {}).get("system_prompt")
    if isinstance(system, str) and system.strip():
        out += ["**System prompt:**", "", _quoted(system), ""]
    for message in conv.messages:
        stats = ReplyStats.from_dict(message.current.stats)
        head = f"## {author(message, stats)}"
        note = version_note(message)
        out += [head + (f" ({note})" if note else ""), "", message.current.content.rstrip("\n"), ""]
        if stats is not None:
            out += [f"*{stats_line(stats)}*", ""]
    return "\n".join(out)


def markdown_document(conversations: list[PortableConversation]) -> str:
    return "\n---\n\n".join(conversation_markdown(c) for c in conversations)


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())

"""What a reply is: its kind, the reply in flight (where it commits, and what it replaces
when it does), and a reply the disk had no room for, shown in its place until it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import count

from app.chat.store import StoredMessage

SEND, REGENERATE, CONTINUE, EDIT = "send", "regenerate", "continue", "edit"
UNSAVED = "disk full: this reply is not saved yet"
_reply_ids = count(1)


@dataclass
class Reply:
    """A reply in flight: where it commits and what it replaces when it does."""

    conversation_id: int
    kind: str  # SEND, REGENERATE, CONTINUE or EDIT
    title: str  # the conversation's, for hints while another one is shown
    target: StoredMessage | None = None  # the reply regenerated or continued, the message edited
    edited_text: str = ""
    context: list[StoredMessage] = field(default_factory=list)  # what the model reads
    # its identity: what the engine thread sends back for it names it, and nothing else lands in it
    id: int = field(default_factory=lambda: next(_reply_ids))
    unsaved_user: StoredMessage | None = None  # SEND on a full disk: stored with the reply
    new_title: str | None = None  # ... and the conversation's first title with them


@dataclass
class Unsaved:
    """A reply the disk had no room for: kept, and shown in its place, until it is stored."""

    reply: Reply
    message: StoredMessage
    why: str  # what the store said ("the disk is full (12 KB free in ...)")

    def placed(self, stored: list[StoredMessage]) -> list[StoredMessage]:
        """The conversation's stored messages with this reply (and what it replaces) in place."""
        r, m = self.reply, self.message
        if r.kind == SEND:
            return [*stored, *([r.unsaved_user] if r.unsaved_user else []), m]
        target = r.target
        assert target is not None
        if r.kind == REGENERATE:
            shown = replace(m, id=target.id, version=target.versions, versions=target.versions + 1)
            return [*stored[:-1], shown]
        if r.kind == CONTINUE:
            return [*stored[:-1], replace(m, id=target.id, version=target.version, versions=target.versions)]
        at = next((i for i, s in enumerate(stored) if s.id == target.id), len(stored))
        return [*stored[:at], StoredMessage("user", r.edited_text, id=target.id), m]

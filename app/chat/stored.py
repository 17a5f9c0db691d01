"""What the conversations file holds, as the rest of the chat sees it: conversations, messages
with their token origins and stats, and the errors a read or a write can end in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import SpeculaError

OriginRuns = list[list[Any]]  # [[n_chars, origin], ...]


class ConversationUnreadableError(SpeculaError):
    """One conversation cannot be read (a damaged page): shown in its place, the rest works."""


class StoreFullError(SpeculaError):
    """The disk has no room for a write: nothing of it was stored, and it can be tried again."""


@dataclass
class StoredMessage:
    role: str
    content: str
    origins: OriginRuns = field(default_factory=list)
    stats: dict[str, Any] | None = None
    id: int | None = None
    version: int = 0  # which version of the reply this is (regenerate keeps the others)
    versions: int = 1  # how many versions it has


@dataclass
class Conversation:
    id: int
    title: str
    updated: float
    model_key: str | None = None  # what it last ran on, offered again when reopened
    draft_key: str | None = None
    settings: dict[str, Any] | None = None


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


def load_json(text: Any, kind: type) -> Any:
    """A stored JSON column of the given kind; empty (or None) when a damaged row holds
    something else."""
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError, RecursionError):
        value = None
    if isinstance(value, kind):
        return value
    return [] if kind is list else None


def dump_json(value: Any) -> str | None:
    return json.dumps(value) if value is not None else None

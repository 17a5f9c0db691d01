"""A conversation as it leaves or enters the app: every message with every version, its token
origins and stats (rounds and rejected drafts travel inside them), and what the conversation
runs on. Exports are written from it, imports read into it, and `store_io` moves it in and out
of the conversations file in one transaction.

The fingerprint is a hash of what a conversation says (titles, roles, texts, origins, stats,
settings; not when it was written or imported), so the same file imported twice is recognised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

ROLES = ("user", "assistant", "system")


@dataclass
class PortableVersion:
    content: str
    origins: list[list[Any]] = field(default_factory=list)  # [[n_chars, "main" | "draft"], ...]
    stats: dict[str, Any] | None = None
    created: float | None = None


@dataclass
class PortableMessage:
    role: str
    versions: list[PortableVersion]
    shown: int = 0  # the version shown, and read by the next reply

    @property
    def current(self) -> PortableVersion:
        return self.versions[self.shown]


@dataclass
class PortableConversation:
    title: str
    messages: list[PortableMessage] = field(default_factory=list)
    created: float | None = None
    updated: float | None = None
    model_key: str | None = None
    draft_key: str | None = None
    settings: dict[str, Any] | None = None
    id: int | None = None  # in this app's conversations file, when it is there

    def fingerprint(self, source: str) -> str:
        """`source` (the format it came in) plus a hash of what it says."""
        what = {
            "title": self.title,
            "model_key": self.model_key,
            "draft_key": self.draft_key,
            "settings": self.settings,
            "messages": [
                [m.role, m.shown, [[v.content, v.origins, v.stats] for v in m.versions]]
                for m in self.messages
            ],
        }
        digest = hashlib.sha256(json.dumps(what, sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return f"{source}:{digest.hexdigest()}"

    @property
    def message_count(self) -> int:
        return len(self.messages)


def plain_runs(text: str) -> list[list[Any]]:
    """Origins of a text the main model (or a person) wrote: one run."""
    return [[len(text), "main"]] if text else []

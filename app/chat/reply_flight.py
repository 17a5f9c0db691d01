"""A reply in flight as the chat page shows it: the message growing, its live numbers, the
pair it runs on (as the engine thread reports it: a draft switched just before the reply may
not be the one chosen when it was sent), and what it needs when it ends (the stats it adds
to, what it replaces).

It keeps growing while another conversation is shown, so showing its own conversation again
puts it back on screen as far as it got. No Qt here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.chat.message_model import MessageView
from app.chat.reply import CONTINUE, SEND, Reply
from app.chat.reply_stats import ReplyStats, measured_so_far
from app.chat.store import StoredMessage
from app.chat.stream_batch import LiveStats, StreamBatch
from app.core.events import GenerationResult, GenerationStats
from app.core.request import (
    ChatMessage,
    DraftSettings,
    GenerationRequest,
    Role,
    SamplingSettings,
    overflow_policy,
)


@dataclass
class Flight:
    reply: Reply
    message: MessageView  # what the stream grows (for Continue: the reply being continued)
    model_key: str  # the pair it runs on: expected when sent, then as the engine thread says
    draft_key: str
    names: Callable[[str], str] = str  # a model key as the user knows it
    previous_stats: ReplyStats | None = None  # Continue adds to these
    live: LiveStats = field(default_factory=LiveStats)
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    original_length: int = 0  # the text's length when it started (Continue)
    first_round: int = 0  # Continue numbers its rounds after the reply's, so each keeps one number
    confirmed: bool = False  # the engine thread said which pair it runs on

    @classmethod
    def start(cls, reply: Reply, model_key: str, draft_key: str, names: Callable[[str], str] = str) -> Flight:
        target = reply.target
        if reply.kind == CONTINUE and target is not None:
            message = MessageView.from_stored(
                "assistant", target.content, target.origins, target.stats, target.id
            )
            message.version, message.versions = target.version, target.versions
            return cls(
                reply,
                message,
                model_key,
                draft_key,
                names,
                previous_stats=message.stats,
                original_length=len(target.content),
                first_round=message.max_round + 1 if message.has_rounds else 0,
            )
        return cls(reply, MessageView("assistant"), model_key, draft_key, names)

    def ran_on(self, model_key: str, draft_key: str) -> None:
        """The engine thread leased this pair for the reply: its stats name these."""
        self.model_key, self.draft_key, self.confirmed = model_key, draft_key, True

    @property
    def model_name(self) -> str:
        return self.names(self.model_key) or self.model_key

    @property
    def draft_name(self) -> str:
        return (self.names(self.draft_key) or self.draft_key) if self.draft_key else ""

    @property
    def with_draft(self) -> bool:
        return bool(self.draft_key)

    def shift(self, batch: StreamBatch) -> StreamBatch:
        if self.first_token is None and batch.tokens:
            self.first_token = time.monotonic()
        offset = self.first_round
        if not offset:
            return batch
        pieces = [(t, k, None if r is None else r + offset) for t, k, r in batch.pieces]
        return StreamBatch(pieces, batch.rounds, batch.tokens, batch.draft_tokens, batch.elapsed)

    def absorb(self, batch: StreamBatch) -> None:
        """A batch while another conversation is shown."""
        self.live.update(batch)
        if batch.pieces:
            self.message.append(batch.pieces)

    @property
    def added_text(self) -> bool:
        return len(self.message.text) > self.original_length

    # --- the end -------------------------------------------------------------------------------
    def final_stats(self, result: GenerationResult | None) -> ReplyStats | None:
        """The reply's stats: the engine's, or (cut off) what the stream measured so far."""
        if result is not None:
            stats = result.stats
        elif self.live.tokens:
            stats = self.measured()
        else:
            return self.previous_stats if self.reply.kind == CONTINUE else None
        out = ReplyStats.named(stats, self.model_name, self.draft_name)
        previous = self.previous_stats if self.reply.kind == CONTINUE else None
        return previous.continued_by(out) if previous is not None else out

    def measured(self) -> GenerationStats:
        first = (self.first_token - self.started) if self.first_token is not None else 0.0
        return measured_so_far(self.live.stats, first, self.draft_key or None)

    def worth_keeping(self, failed: bool) -> bool:
        """A new message is kept even empty when it was stopped (so it can be regenerated);
        what replaces or extends a reply only when it brought text."""
        if self.reply.kind == SEND:
            return bool(self.message.text) or not failed
        return self.added_text

    def stored(self) -> StoredMessage:
        m = self.message
        return StoredMessage("assistant", m.text, m.origins, m.stats_for_storage())


@dataclass(frozen=True)
class ReplyJob:
    """A reply for the engine thread: what it reads, and the reply it belongs to."""

    reply_id: int  # Reply.id: everything the engine thread says about it carries this
    request: GenerationRequest


def build_request(reply: Reply, values: dict[str, Any], engine: str) -> GenerationRequest:
    """What the model reads for `reply`, with the sidebar's settings."""
    messages: list[ChatMessage] = []
    if values.get("system_prompt"):
        messages.append(ChatMessage(Role.SYSTEM, values["system_prompt"]))
    messages.extend(ChatMessage(Role(m.role), m.content) for m in reply.context)
    return GenerationRequest(
        messages=tuple(messages),
        max_tokens=int(values["max_tokens"]),
        sampling=SamplingSettings.from_values(values),
        draft=DraftSettings.from_values(values, engine),
        context_overflow=overflow_policy(values),
    )

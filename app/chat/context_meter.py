"""The context meter under the message box: how much of the model's context the conversation
takes ("1,234 / 4,096 tokens"), and, once it is 80% full, what the Context Overflow policy
will do when it fills (app/core/context_overflow.py).

What is counted is what the model would read for the next reply: the system prompt, the
conversation shown and the message being typed, through the model's own template and
tokenizer (the engine thread counts it: tokenizing never runs on the GUI thread). A count
past the context is shown as it is ("5,210 / 4,096 tokens"): the policy leaves turns out of
what the model reads, never out of the conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.chat.store import StoredMessage
from app.core.context_overflow import CONSEQUENCES, ContextOverflow
from app.core.request import ChatMessage, GenerationRequest, Role, overflow_policy

FILLING = 0.8  # the meter turns amber and says what will happen


class ContextCounter(Protocol):
    n_ctx: int

    def prompt_tokens(self, request: GenerationRequest) -> list[int]: ...


@dataclass(frozen=True)
class ContextJob:
    """A count for the engine thread; `serial` tells the latest count from older ones."""

    serial: int
    request: GenerationRequest


@dataclass(frozen=True)
class ContextReading:
    serial: int
    used: int
    n_ctx: int
    policy: ContextOverflow

    @property
    def fraction(self) -> float:
        return self.used / self.n_ctx if self.n_ctx else 0.0

    @property
    def filling(self) -> bool:
        return self.fraction >= FILLING

    @property
    def text(self) -> str:
        return f"{self.used:,} / {self.n_ctx:,} tokens"

    @property
    def note(self) -> str:
        """What happens when the context is full, said once it is filling ("" before)."""
        if not self.filling:
            return ""
        if self.used > self.n_ctx:
            return f"past the context: {CONSEQUENCES[self.policy]}"
        return f"{100 * self.fraction:.0f}% full: {CONSEQUENCES[self.policy]}"


def meter_job(
    serial: int, messages: Sequence[StoredMessage], typed: str, values: Mapping[str, Any]
) -> ContextJob:
    """What the next reply would read: the sidebar's system prompt, the conversation, and the
    message being typed (when there is one)."""
    chat: list[ChatMessage] = []
    if values.get("system_prompt"):
        chat.append(ChatMessage(Role.SYSTEM, str(values["system_prompt"])))
    chat.extend(ChatMessage(Role(m.role), m.content) for m in messages)
    if typed.strip():
        chat.append(ChatMessage(Role.USER, typed.strip()))
    request = GenerationRequest(messages=tuple(chat), context_overflow=overflow_policy(values))
    return ContextJob(serial, request)


def read_context(model: ContextCounter, job: ContextJob) -> ContextReading:
    """The count, on the loaded model (a conversation with nothing in it yet counts what the
    template adds around nothing)."""
    used = len(model.prompt_tokens(job.request)) if job.request.messages else 0
    return ContextReading(job.serial, used, model.n_ctx, job.request.context_overflow)

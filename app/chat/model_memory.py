"""Where the model's memory of a conversation begins: the chat draws a thin line there when the
last reply was written without some earlier messages (the Context Overflow policy left them
out of what the model read; the conversation keeps them).

A reply's stats say which run of its conversation's messages it could not see
(`truncated_turns` of them from `truncated_from`, counted among the messages it read other than
the system prompt, which the chat keeps apart): the conversation shown before that reply is
exactly those messages, so the run maps onto the transcript by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.chat.reply_stats import ReplyStats


class HasStats(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def stats(self) -> ReplyStats | None: ...


@dataclass(frozen=True)
class MemoryLine:
    before: int  # the line goes before this message (the first one the model read again)
    left_out: int  # messages before it the model could not see

    @property
    def text(self) -> str:
        s = "s" if self.left_out != 1 else ""
        return f"{self.left_out} earlier message{s} above are beyond the model's context"


def memory_line(messages: Sequence[HasStats]) -> MemoryLine | None:
    """The line for the last reply shown, if it could not see some earlier messages."""
    stats = messages[-1].stats if messages and messages[-1].role == "assistant" else None
    if stats is None:
        return None
    left_out, start = stats.generation.truncated_turns, stats.generation.truncated_from
    end = start + left_out
    if left_out <= 0 or end >= len(messages):
        return None
    return MemoryLine(end, left_out)

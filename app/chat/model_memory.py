"""Where the model's memory of a conversation begins: the chat draws a thin line there when the
last reply was written without some earlier messages (the Context Overflow policy left them
out of what the model read; the conversation keeps them).

A reply's stats say which run of its conversation's messages it could not see
(`truncated_turns` of them from `truncated_from`, counted among the messages it read other than
the system prompt, which the chat keeps apart): the conversation shown before that reply is
exactly those messages, so the run maps onto the transcript by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class HasStats(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def stats(self) -> Mapping[str, Any] | None: ...


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
    if not messages or messages[-1].role != "assistant" or not messages[-1].stats:
        return None
    stats = messages[-1].stats
    left_out = int(stats.get("truncated_turns") or 0)
    start = int(stats.get("truncated_from") or 0)
    end = start + left_out
    if left_out <= 0 or end >= len(messages):
        return None
    return MemoryLine(end, left_out)

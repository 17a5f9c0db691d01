"""What happens when a conversation outgrows the model's context (LM Studio's *Context
Overflow*): the three policies, their names as LM Studio shows them, and what each does.

Plain values here; the fitting itself (which turns the model reads) lives with the engines
(app/engines/context_fit.py), below every caller.
"""

from __future__ import annotations

from enum import Enum


class ContextOverflow(str, Enum):
    TRUNCATE_MIDDLE = "truncate-middle"  # keep the system prompt and the first user message
    ROLLING_WINDOW = "rolling-window"  # keep the most recent turns
    STOP_AT_LIMIT = "stop-at-limit"  # a reply that fills the context stops there

    @property
    def label(self) -> str:
        """LM Studio's name for it."""
        return LABELS[self]

    @property
    def drops_mid_reply(self) -> bool:
        """Whether a reply that fills the context drops earlier turns and goes on."""
        return self is not ContextOverflow.STOP_AT_LIMIT

    @property
    def keeps_first_turn(self) -> bool:
        """Whether the first user message is kept when earlier turns are dropped."""
        return self is not ContextOverflow.ROLLING_WINDOW


LABELS = {
    ContextOverflow.TRUNCATE_MIDDLE: "Truncate Middle",
    ContextOverflow.ROLLING_WINDOW: "Rolling Window",
    ContextOverflow.STOP_AT_LIMIT: "Stop at Limit",
}

# What the meter says will happen once the context is full.
CONSEQUENCES = {
    ContextOverflow.TRUNCATE_MIDDLE: "older messages will be dropped (the first is kept)",
    ContextOverflow.ROLLING_WINDOW: "older messages will be dropped",
    ContextOverflow.STOP_AT_LIMIT: "a reply stops when the context is full",
}

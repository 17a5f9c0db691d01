"""Fitting a conversation into the model's context by leaving whole turns out.

The model reads its context, never more; a conversation that outgrows it is fitted before any
work, by the request's Context Overflow policy (app/core/context_overflow.py):

- whole messages are left out, never part of one, never a system message, never the last
  message (nor, when the last is a reply being continued, the user message it answers);
  truncate-middle (and stop-at-limit) keep the first user message, rolling-window does not;
- what is left out is one run of messages whose first has the role of the first message kept
  after it, so a conversation that alternates user and assistant still does (the strict
  chat templates refuse any other);
- the prompt leaves room for the reply's Max Tokens, or a quarter of the context when Max
  Tokens cannot fit; when even the shortest prompt cannot leave that much, it is read with the
  room there is, and a prompt that leaves none is an error naming its size.

**Steps.** Dropping turns changes the prompt's prefix, so the model re-reads what follows
(or shifts its cache: app/engines/llamacpp.py). Turns are therefore dropped in steps of a
quarter of the context, measured from the first droppable turn: the run left out is the
longest that fits in k steps, for the smallest k whose prompt fits. As the conversation grows
the same k (so the same run, the same prefix) keeps fitting for a while, and the next replies
reuse the cache; only the reply that needs k + 1 steps reads the kept prompt again. The
steps are measured on each message's own tokens (deterministic, and unchanged as the
conversation grows); whether a prompt fits is measured on the exact prompt.

A reply that fills the context mid-way is fitted again with its tokens so far counted in
(`ReplyContext`, app/engines/reply_context.py): the reply itself is never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from app.core.errors import ContextOverflowError
from app.core.request import ChatMessage, GenerationRequest, Role

STEPS_PER_CONTEXT = 4  # turns are dropped a quarter of the context at a time
TURN_SCAFFOLD = 4  # tokens a chat template adds around a message, about (steps only)
INSTRUCTIONS = (Role.SYSTEM, Role.DEVELOPER)


class PromptModel(Protocol):
    """What fitting needs of a model: its context and its tokenizer (through its template)."""

    n_ctx: int

    def prompt_tokens(self, request: GenerationRequest) -> list[int]: ...
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]: ...


@dataclass(frozen=True)
class PromptFit:
    """The prompt a model reads for a request: its tokens, the messages kept, and the run of
    messages left out (`dropped` of them from `dropped_from`, counted among the request's
    messages other than system ones)."""

    tokens: list[int]
    messages: tuple[ChatMessage, ...]
    context_length: int
    dropped: int = 0
    dropped_from: int = 0

    @property
    def room(self) -> int:
        """Positions left for the reply."""
        return self.context_length - len(self.tokens)


def step_size(n_ctx: int) -> int:
    return max(1, n_ctx // STEPS_PER_CONTEXT)


def reply_room(request: GenerationRequest, n_ctx: int) -> int:
    """The room a prompt leaves for the reply: its Max Tokens, or a quarter of the context
    when Max Tokens is more than that."""
    return min(request.max_tokens, step_size(n_ctx))


def fit_prompt(model: PromptModel, request: GenerationRequest) -> PromptFit:
    """The prompt to read for `request`, fitted before any work. ContextOverflowError when
    even the shortest prompt the policy allows fills the context."""
    fit = fit_within(model, request, generated=0, room=reply_room(request, model.n_ctx))
    if fit.room < 1:
        n_ctx = model.n_ctx
        if fit.dropped or (request.prompt is None and turns_of(request.messages) > 1):
            raise ContextOverflowError(
                f"the prompt is {len(fit.tokens)} tokens even with the earlier messages left out, "
                f"but the context holds {n_ctx}; shorten the last message or load the model with "
                "a longer context"
            )
        raise ContextOverflowError(
            f"the prompt is {len(fit.tokens)} tokens but the context holds {n_ctx}; "
            "shorten it or load the model with a longer context"
        )
    return fit


def fit_within(model: PromptModel, request: GenerationRequest, generated: int, room: int) -> PromptFit:
    """The prompt that leaves `room` positions after `generated` reply tokens, or the
    shortest the policy allows when none does. A raw prompt is never cut."""
    n_ctx = model.n_ctx
    whole = PromptFit(model.prompt_tokens(request), request.messages, n_ctx)
    limit = n_ctx - generated - room
    if request.prompt is not None or len(whole.tokens) <= limit:
        return whole
    plan = _DropPlan(model, request)
    fit = plan.fit(limit, keep_first=request.context_overflow.keeps_first_turn)
    if fit is None and request.context_overflow.keeps_first_turn:
        fit = plan.fit(limit, keep_first=False)  # the first user turn goes too rather than fail
    if fit is not None:
        return fit
    shortest = plan.shortest()
    return shortest if len(shortest.tokens) < len(whole.tokens) else whole


class _DropPlan:
    """Which runs of messages may be left out of one request, and what leaving them out gives."""

    def __init__(self, model: PromptModel, request: GenerationRequest) -> None:
        self.model, self.request = model, request
        self.n_ctx = model.n_ctx
        messages = request.messages
        self.turns = [i for i, m in enumerate(messages) if m.role not in INSTRUCTIONS]
        n = len(self.turns)
        tail = n - 1  # the last message is always read
        if n >= 2 and self._role(n - 1) is Role.ASSISTANT and self._role(n - 2) is Role.USER:
            tail = n - 2  # a reply being continued keeps the message it answers
        self.tail = max(0, tail)
        self.sizes = [
            len(model.tokenize(messages[i].content, add_special=False, parse_special=False)) + TURN_SCAFFOLD
            for i in self.turns
        ]

    def _role(self, turn: int) -> Role:
        return self.request.messages[self.turns[turn]].role

    def _head(self, keep_first: bool) -> int:
        """Turns kept before the run that may be left out."""
        first_is_user = bool(self.turns) and self._role(0) is Role.USER
        return 1 if keep_first and first_is_user and self.tail > 1 else 0

    def _ends(self, head: int) -> list[int]:
        """Where a run left out from `head` may end: at a turn of the role the run starts with,
        so the turns kept still alternate (from the first turn, at the tail too: nothing is
        left before it to alternate with)."""
        if head >= self.tail:
            return []
        role = self._role(head)
        ends = range(head + 1, self.tail + 1)
        return [b for b in ends if self._role(b) is role or (head == 0 and b == self.tail)]

    def _steps(self, head: int) -> list[int]:
        """The runs that may be left out, one per step: for k = 1, 2, ... the longest run
        whose turns fit in k quarters of the context (where a step reaches a new one)."""
        step = step_size(self.n_ctx)
        left_out: dict[int, int] = {}
        total = 0
        for b in range(head + 1, self.tail + 1):
            total += self.sizes[b - 1]
            left_out[b] = total
        longest: dict[int, int] = {}  # steps needed -> the longest run's end
        for b in self._ends(head):  # ascending: the last one written is the longest
            longest[-(-left_out[b] // step)] = b
        return [longest[k] for k in sorted(longest)]

    def _fit(self, head: int, end: int) -> PromptFit:
        left_out = set(self.turns[head:end])
        kept = tuple(m for i, m in enumerate(self.request.messages) if i not in left_out)
        tokens = self.model.prompt_tokens(replace(self.request, messages=kept))
        return PromptFit(tokens, kept, self.n_ctx, dropped=end - head, dropped_from=head)

    def fit(self, limit: int, keep_first: bool) -> PromptFit | None:
        """The prompt with the fewest steps left out that is at most `limit` tokens, if any
        (a binary search: leaving more out never lengthens the prompt)."""
        head = self._head(keep_first)
        ends = self._steps(head)
        found: PromptFit | None = None
        lo, hi = 0, len(ends) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            fit = self._fit(head, ends[mid])
            if len(fit.tokens) <= limit:
                found, hi = fit, mid - 1
            else:
                lo = mid + 1
        return found

    def shortest(self) -> PromptFit:
        """Everything that may go left out: the system prompt and the tail only."""
        return self._fit(0, self.tail)


def turns_of(messages: Sequence[ChatMessage]) -> int:
    """Messages that count as turns (not system ones)."""
    return sum(1 for m in messages if m.role not in INSTRUCTIONS)

"""Fitting a conversation into the context (app/engines/context_fit.py) on a model whose
tokens are words: which turns are left out, in which steps, and what never is."""

from __future__ import annotations

import itertools

import pytest

from app.core.context_overflow import ContextOverflow
from app.core.errors import ContextOverflowError
from app.core.request import ChatMessage, GenerationRequest, Role
from app.engines.context_fit import fit_prompt, step_size
from app.engines.reply_context import ReplyContext

SCAFFOLD = 3  # tokens the fake template adds around each message


class WordModel:
    """One token per word; the template wraps each message in a role token and an end token."""

    def __init__(self, n_ctx: int) -> None:
        self.n_ctx = n_ctx
        self.ids: dict[str, int] = {}

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        return [self.ids.setdefault(w, len(self.ids)) for w in text.split()]

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        if request.prompt is not None:
            return self.tokenize(request.prompt)
        out = [-1]
        for m in request.messages:
            out += [-2, *self.tokenize(f"{m.role.value}: {m.content}"), -3]
        return out


def words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n))


def chat(turns: int, size: int = 20, system: bool = True) -> tuple[ChatMessage, ...]:
    """A system prompt, then `turns` alternating user and assistant messages of `size` words."""
    out = [ChatMessage(Role.SYSTEM, words(10, "s"))] if system else []
    for t in range(turns):
        role = Role.USER if t % 2 == 0 else Role.ASSISTANT
        out.append(ChatMessage(role, words(size, f"t{t}w")))
    return tuple(out)


def request(messages, policy=ContextOverflow.TRUNCATE_MIDDLE, max_tokens=16) -> GenerationRequest:
    return GenerationRequest(messages=messages, max_tokens=max_tokens, context_overflow=policy)


def test_a_conversation_that_fits_is_read_whole():
    model = WordModel(512)
    fit = fit_prompt(model, request(chat(5)))
    assert fit.dropped == 0
    assert fit.tokens == model.prompt_tokens(request(chat(5)))


@pytest.mark.parametrize("policy", list(ContextOverflow))
def test_whole_turns_are_left_out_never_the_system_prompt_nor_the_last_message(policy):
    model = WordModel(256)
    messages = chat(21)
    fit = fit_prompt(model, request(messages, policy))
    assert fit.dropped > 0
    assert len(fit.tokens) + 16 <= 256  # room for the reply's Max Tokens
    assert fit.messages[0] == messages[0]  # the system prompt
    assert fit.messages[-1] == messages[-1]
    assert set(fit.messages) <= set(messages)  # whole messages, unchanged
    kept_turns = [m for m in fit.messages if m.role is not Role.SYSTEM]
    roles = [m.role for m in kept_turns]
    assert all(a is not b for a, b in itertools.pairwise(roles))  # still alternating
    assert roles[0] is Role.USER
    if policy.keeps_first_turn:
        assert kept_turns[0] == messages[1]
    else:
        assert messages[1] not in fit.messages
    # what is left out is one run, counted from dropped_from among the turns
    turns = [m for m in messages if m.role is not Role.SYSTEM]
    assert kept_turns == turns[: fit.dropped_from] + turns[fit.dropped_from + fit.dropped :]


def test_rolling_window_keeps_the_most_recent_turns():
    model = WordModel(256)
    messages = chat(31)
    fit = fit_prompt(model, request(messages, ContextOverflow.ROLLING_WINDOW))
    turns = [m for m in messages if m.role is not Role.SYSTEM]
    assert fit.dropped_from == 0
    assert [m for m in fit.messages if m.role is not Role.SYSTEM] == turns[fit.dropped :]


def test_turns_are_left_out_in_steps_so_the_next_replies_keep_the_prefix():
    """As the conversation grows, the run left out stays the same for a while (the cache's
    prefix holds), and grows by about a quarter of the context when it must."""
    model = WordModel(400)
    fits = [fit_prompt(model, request(chat(n))) for n in range(1, 60, 2)]
    drops = [f.dropped for f in fits]
    assert drops == sorted(drops)
    changes = sum(a != b for a, b in itertools.pairwise(drops))
    truncated = sum(d > 0 for d in drops)
    assert truncated > 10
    assert changes <= truncated // 2  # most replies reuse the previous prefix
    for a, b in itertools.pairwise(fits):
        if a.dropped and a.dropped == b.dropped:
            assert b.tokens[: len(a.tokens) - 1] == a.tokens[: len(a.tokens) - 1]
        if a.dropped != b.dropped and a.dropped:
            freed = sum(len(m.content.split()) + 1 + SCAFFOLD for m in a.messages if m not in b.messages)
            assert freed >= step_size(400) // 2


def test_a_single_message_larger_than_the_context_is_an_error_naming_its_size():
    model = WordModel(128)
    messages = (*chat(6, size=10), ChatMessage(Role.USER, words(200, "big")))
    with pytest.raises(
        ContextOverflowError, match=r"the prompt is \d+ tokens even with the earlier messages"
    ):
        fit_prompt(model, request(messages))
    with pytest.raises(ContextOverflowError, match=r"the prompt is \d+ tokens but the context holds 128"):
        fit_prompt(model, request((ChatMessage(Role.USER, words(200, "big")),)))


def test_a_raw_prompt_is_never_cut():
    model = WordModel(64)
    raw = GenerationRequest(prompt=words(100, "w"), max_tokens=8)
    with pytest.raises(ContextOverflowError, match="the prompt is 100 tokens but the context holds 64"):
        fit_prompt(model, raw)


def test_max_tokens_that_cannot_fit_leaves_a_quarter_of_the_context():
    model = WordModel(256)
    fit = fit_prompt(model, request(chat(21), max_tokens=10_000))
    assert fit.room >= step_size(256)


def test_a_reply_being_continued_keeps_the_message_it_answers():
    model = WordModel(256)
    messages = chat(22)  # ends with an assistant message: Continue
    fit = fit_prompt(model, request(messages, ContextOverflow.ROLLING_WINDOW))
    assert fit.dropped > 0
    assert fit.messages[-2:] == messages[-2:]


def test_a_full_context_mid_reply_drops_another_step_and_keeps_the_reply():
    model = WordModel(256)
    context = ReplyContext(model, request(chat(13), max_tokens=400))
    before = context.fit
    reply = list(range(1000, 1000 + 256 - len(before.tokens)))  # the reply filled the context
    sequence = context.refit([*before.tokens, *reply])
    assert sequence is not None
    assert sequence[-len(reply) :] == reply  # never cut, never re-tokenized
    assert len(sequence) < 256
    assert context.fit.dropped > before.dropped
    assert context.refits == 1


def test_stop_at_limit_and_a_raw_prompt_do_not_refit():
    model = WordModel(256)
    stop = ReplyContext(model, request(chat(13), ContextOverflow.STOP_AT_LIMIT, max_tokens=400))
    assert not stop.can_refit
    assert stop.refit([*stop.prompt, *range(1000, 1100)]) is None
    raw = ReplyContext(model, GenerationRequest(prompt=words(50, "w"), max_tokens=400))
    assert not raw.can_refit

"""Conversations longer than the context on the real Gemma 3 270M (context 512): each Context
Overflow policy goes on for 40 turns, the draft reads what the main model reads, a reply that
fills the context mid-way goes on (or stops, at the limit), and dropped turns are shifted out
of the cache rather than read again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.core.context_overflow import ContextOverflow
from app.core.events import StopReason
from app.core.request import ChatMessage, DraftSettings, GenerationRequest, Role
from app.engines.context_fit import fit_prompt
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.engines.helpers import GREEDY, Run, assert_invariants, run
from tests.model_factory import gemma_cut_down, gemma_q4

pytestmark = pytest.mark.slow

N_CTX = 512
SMALL_CTX = 256  # for replies that fill the context: fewer tokens to decode
TURNS = 40
SYSTEM = ChatMessage(Role.SYSTEM, "You are a patient assistant who answers in one short sentence.")


def user_message(turn: int) -> ChatMessage:
    return ChatMessage(Role.USER, f"Question {turn}: what colour is the river in village {turn}, and why?")


def load(path, n_ctx: int = N_CTX) -> LlamaCppModel:
    return LlamaCppModel(path, LoadOptions(n_ctx=n_ctx))


@pytest.fixture(scope="module")
def models() -> Iterator[dict[str, LlamaCppModel]]:
    loaded = {
        "main": load(gemma_q4()),
        "main_spec": load(gemma_q4()),
        "draft": load(gemma_cut_down()),
        "small_main": load(gemma_q4(), SMALL_CTX),
        "small_draft": load(gemma_cut_down(), SMALL_CTX),
    }
    yield loaded
    for model in loaded.values():
        model.close()


def request(messages, policy: ContextOverflow, max_tokens: int = 3, **draft) -> GenerationRequest:
    return GenerationRequest(
        messages=tuple(messages),
        max_tokens=max_tokens,
        sampling=GREEDY,
        draft=DraftSettings(auto=False, p_min=0.0, **draft),  # type: ignore[arg-type]
        context_overflow=policy,
    )


@dataclass
class Played:
    store: list[ChatMessage]
    runs: list[tuple[GenerationRequest, Run]]
    evaluated: list[int]  # tokens the main model evaluated per turn (prompt read and reply)


def play(main: LlamaCppModel, policy: ContextOverflow, turns: int = TURNS, draft=None) -> Played:
    """A chat, the stored conversation growing by each question and its reply."""
    played = Played([SYSTEM], [], [])
    real_eval = main.eval

    def counting_eval(tokens, n_logits=1):
        played.evaluated[-1] += len(tokens)
        real_eval(tokens, n_logits)

    main.eval = counting_eval  # type: ignore[method-assign]
    try:
        for turn in range(turns):
            played.store.append(user_message(turn))
            req = request(played.store, policy, max_draft_size=3)
            played.evaluated.append(0)
            result = run(main, req, draft=ModelDraft(draft) if draft is not None else None)
            played.runs.append((req, result))
            played.store.append(ChatMessage(Role.ASSISTANT, result.text))
    finally:
        del main.eval
    return played


class Chats(dict[ContextOverflow, "Played"]):
    """Each policy's 40-turn chat, played once, when a test first needs it (one test's time)."""

    def __init__(self, main: LlamaCppModel) -> None:
        super().__init__()
        self.main = main

    def __missing__(self, policy: ContextOverflow) -> Played:
        self[policy] = chat = play(self.main, policy)
        return chat


@pytest.fixture(scope="module")
def played(models) -> Chats:
    return Chats(models["main"])


@pytest.mark.parametrize("policy", list(ContextOverflow))
def test_forty_turns_go_on_in_every_policy(models, played, policy):
    chat = played[policy]
    for _, r in chat.runs:
        assert r.result.error is None
        assert r.stats.stop_reason in (StopReason.MAX_TOKENS, StopReason.EOS)
        assert r.stats.prompt_tokens_count + r.stats.predicted_tokens_count <= N_CTX
        assert r.stats.context_length == N_CTX
    truncated = [r for _, r in chat.runs if r.stats.truncated_turns]
    assert len(truncated) > TURNS // 2  # the chat outgrew the context early
    # the stored conversation is never changed: every question and reply, as they were
    assert chat.store[0] == SYSTEM
    assert chat.store[1::2] == [user_message(t) for t in range(TURNS)]
    assert [m.content for m in chat.store[2::2]] == [r.text for _, r in chat.runs]
    last_req, last = chat.runs[-1]
    fit = fit_prompt(models["main"], last_req)
    assert fit.dropped == last.stats.truncated_turns
    assert fit.messages[0] == SYSTEM
    assert fit.messages[-1] == user_message(TURNS - 1)
    if policy is ContextOverflow.ROLLING_WINDOW:
        assert last.stats.truncated_from == 0
        assert user_message(0) not in fit.messages
    else:  # truncate-middle (and stop-at-limit, before any work) keep the first question
        assert last.stats.truncated_from == 1
        assert fit.messages[1] == user_message(0)


def test_turns_dropped_from_the_conversation_are_shifted_out_of_the_cache_not_read_again(models, played):
    assert models["main"].kv_shift  # Gemma 3 is a RoPE model: its cache can shift
    chat = played[ContextOverflow.TRUNCATE_MIDDLE]
    dropped = [r.stats.truncated_turns for _, r in chat.runs]
    steps = [i for i in range(1, TURNS) if dropped[i] != dropped[i - 1]]
    assert len(steps) >= 3  # turns were dropped, in steps
    for i in steps:
        prompt = chat.runs[i][1].stats.prompt_tokens_count
        # what follows the dropped turns was not read again: about the new question only
        assert chat.evaluated[i] < prompt // 3, (i, chat.evaluated[i], prompt)


def test_a_sliding_window_model_without_full_attention_layers_does_not_shift(models):
    """llama.cpp aborts the process shifting such a model's cache (its full-attention cache is
    empty): the 2-layer cut of Gemma 3 re-reads instead (and drafts here, past the context)."""
    assert not models["draft"].kv_shift


def test_a_greedy_chat_past_the_context_is_the_same_with_a_draft_that_reads_what_the_main_reads(
    models, played
):
    policy, turns = ContextOverflow.TRUNCATE_MIDDLE, 20  # a few truncation steps in
    plain = played[policy].runs if policy in played else play(models["main"], policy, turns).runs
    main, draft = models["main_spec"], models["draft"]
    spec = play(main, policy, turns=turns, draft=draft)
    drafted = 0
    for turn, (_req, r) in enumerate(spec.runs):
        assert r.text == plain[turn][1].text
        assert r.stats.truncated_turns == plain[turn][1].stats.truncated_turns
        assert_invariants(r)
        if r.stats.truncated_turns:
            drafted += r.stats.total_draft_tokens_count
    assert spec.runs[-1][1].stats.truncated_turns > 0
    assert drafted > 0  # the draft kept drafting after the truncations
    prompt = fit_prompt(main, spec.runs[-1][0]).tokens
    assert draft.cached[: len(prompt) - 1] == prompt[:-1] == main.cached[: len(prompt) - 1]


def long_chat(turns: int = 9) -> list[ChatMessage]:
    out = [SYSTEM]
    for t in range(turns):
        out += [user_message(t), ChatMessage(Role.ASSISTANT, "The water is green because of the algae.")]
    return [*out, ChatMessage(Role.USER, "Now count from one to two hundred in words, one per line.")]


def fresh(*models: LlamaCppModel) -> None:
    """Empty caches, so two runs compared start alike."""
    for model in models:
        model.truncate(0)


def test_a_reply_that_fills_the_context_drops_more_turns_and_goes_on_the_same_with_a_draft(models):
    main, draft = models["small_main"], models["small_draft"]
    req = request(long_chat(), ContextOverflow.TRUNCATE_MIDDLE, max_tokens=140, max_draft_size=6)
    before = fit_prompt(main, req)
    fresh(main)
    plain = run(main, req)
    fresh(main, draft)
    spec = run(main, req, draft=ModelDraft(draft))
    assert plain.stats.stop_reason is StopReason.MAX_TOKENS, plain.text
    assert plain.stats.predicted_tokens_count == 140 > SMALL_CTX - len(before.tokens)  # past the context
    assert plain.stats.truncated_turns > before.dropped  # another step left out mid-reply
    assert plain.stats.prompt_tokens_count + 140 <= SMALL_CTX
    assert spec.text == plain.text
    assert spec.stats.truncated_turns == plain.stats.truncated_turns
    assert spec.stats.total_draft_tokens_count > 0  # drafting went on past the context
    assert_invariants(spec)


def test_stop_at_limit_ends_a_reply_that_fills_the_context_with_context_full(models):
    main = models["small_main"]
    req = request(long_chat(), ContextOverflow.STOP_AT_LIMIT, max_tokens=400)
    fit = fit_prompt(main, req)
    r = run(main, req)
    assert r.stats.stop_reason is StopReason.CONTEXT_FULL, r.text
    assert r.result.error is None
    assert (
        len(fit.tokens) + r.stats.predicted_tokens_count == SMALL_CTX + 1
    )  # every position, and the last token
    assert r.stats.truncated_turns == fit.dropped > 0

"""The context meter's reading: what the next reply would read, counted on the real model, and
the words under the message box."""

from __future__ import annotations

from app.chat.context_meter import ContextReading, meter_job, read_context
from app.chat.store import StoredMessage
from app.core import model_settings
from app.core.context_overflow import ContextOverflow
from app.core.request import ChatMessage, GenerationRequest, Role
from app.engines.llamacpp import LlamaCppModel, LoadOptions


def reading(used: int, policy=ContextOverflow.TRUNCATE_MIDDLE) -> ContextReading:
    return ContextReading(1, used, 4096, policy)


def test_the_words_say_the_count_and_from_80_percent_what_will_happen():
    assert reading(1234).text == "1,234 / 4,096 tokens"
    assert not reading(3276).filling
    assert reading(3276).note == ""
    assert reading(3277).filling
    assert reading(3500).note == "85% full: older messages will be dropped (the first is kept)"
    assert reading(3500, ContextOverflow.STOP_AT_LIMIT).note.endswith(
        "a reply stops when the context is full"
    )
    assert (
        reading(5000, ContextOverflow.ROLLING_WINDOW).note
        == "past the context: older messages will be dropped"
    )
    assert reading(5000).text == "5,000 / 4,096 tokens"  # the conversation, as long as it is


def test_the_count_is_what_the_next_reply_would_read(tiny_main):
    model = LlamaCppModel(tiny_main, LoadOptions(n_ctx=256))
    try:
        values = {
            **model_settings.defaults(),
            "system_prompt": "be brief",
            "context_overflow": "rolling-window",
        }
        stored = [StoredMessage("user", "the cat"), StoredMessage("assistant", "sat on the mat")]
        job = meter_job(3, stored, "  and the dog?  ", values)
        expected = GenerationRequest(
            messages=(
                ChatMessage(Role.SYSTEM, "be brief"),
                ChatMessage(Role.USER, "the cat"),
                ChatMessage(Role.ASSISTANT, "sat on the mat"),
                ChatMessage(Role.USER, "and the dog?"),
            )
        )
        got = read_context(model, job)
        assert (got.serial, got.n_ctx, got.policy) == (3, 256, ContextOverflow.ROLLING_WINDOW)
        assert got.used == len(model.prompt_tokens(expected))
        without_typing = read_context(model, meter_job(4, stored, "", values))
        assert 0 < without_typing.used < got.used
        assert read_context(model, meter_job(5, [], "", {**values, "system_prompt": ""})).used == 0
    finally:
        model.close()

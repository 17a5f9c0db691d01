"""Response bodies, built through the schema's models so what is sent is what /openapi.json
describes: completions, streamed chunks (one per token, so draft tokens can be counted and
coloured; `CompletionEvents` is their stream), the speculative stats, and the model lists."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel

from app.core.events import GenerationResult, GenerationStats, StopReason, TokenEvent, TokenOrigin
from app.library.compat_index import DraftReport
from app.library.entry import ModelEntry
from app.server.errors import ApiError
from app.server.request_parsing import ParsedRequest
from app.server.schema import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    CompletionChoice,
    Delta,
    DraftCard,
    DraftList,
    ErrorDetail,
    ModelCard,
    RestModel,
    Stats,
    Usage,
)


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as JSON data; fields never set (stats off the REST API, ...) are left out."""
    return model.model_dump(mode="json", exclude_unset=True)


def finish_reason(stats: GenerationStats) -> str:
    """OpenAI's word: "length" when a limit ended the reply (max tokens, a full context)."""
    return "length" if stats.stop_reason in (StopReason.MAX_TOKENS, StopReason.CONTEXT_FULL) else "stop"


def stats_of(s: GenerationStats) -> Stats:
    return Stats(
        tokens_per_second=s.tokens_per_second,
        time_to_first_token=s.time_to_first_token,
        generation_time=s.generation_time,
        stop_reason=s.stop_reason.value,
        draft_model=s.draft_model,
        total_draft_tokens_count=s.total_draft_tokens_count,
        accepted_draft_tokens_count=s.accepted_draft_tokens_count,
        rejected_draft_tokens_count=s.rejected_draft_tokens_count,
        ignored_draft_tokens_count=s.ignored_draft_tokens_count,
        accepted_after_stop_count=s.accepted_after_stop_count,
        verify_steps=s.verify_steps,
        mean_tokens_per_step=s.mean_tokens_per_step,
        acceptance_rate=s.acceptance_rate,
        acceptance_by_position=s.acceptance_by_position(),
        draft_note=s.draft_note,
        rounds=[list(r) for r in s.rounds],
        context_length=s.context_length,
        truncated_turns=s.truncated_turns,
    )


def usage_of(s: GenerationStats) -> Usage:
    return Usage(
        prompt_tokens=s.prompt_tokens_count,
        completion_tokens=s.predicted_tokens_count,
        total_tokens=s.prompt_tokens_count + s.predicted_tokens_count,
        context_length=s.context_length or None,
    )


def new_id(chat: bool) -> str:
    return ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]


def completion_body(p: ParsedRequest, model: str, result: GenerationResult, rest: bool) -> dict[str, Any]:
    s = result.stats
    extra: dict[str, Any] = {"stats": stats_of(s)} if rest else {}
    common: dict[str, Any] = {
        "id": new_id(p.chat),
        "created": int(time.time()),
        "model": model,
        "usage": usage_of(s),
    }
    if p.chat:
        choice = ChatChoice(
            index=0,
            message=AssistantMessage(role="assistant", content=result.text),
            finish_reason=finish_reason(s),  # type: ignore[arg-type]
            logprobs=None,
        )
        return dump(ChatCompletion(object="chat.completion", choices=[choice], **common, **extra))
    text_choice = CompletionChoice(
        index=0,
        text=result.text,
        finish_reason=finish_reason(s),  # type: ignore[arg-type]
        logprobs=None,
    )
    return dump(Completion(object="text_completion", choices=[text_choice], **common, **extra))


class ChunkMaker:
    """The chunks of one streamed reply, all with the same id."""

    def __init__(self, p: ParsedRequest, model: str) -> None:
        self.p, self.model = p, model
        self.id = new_id(p.chat)
        self.created = int(time.time())

    def _chunk(self, choices: list[Any], **extra: Any) -> dict[str, Any]:
        head: dict[str, Any] = {"id": self.id, "created": self.created, "model": self.model}
        if self.p.chat:
            return dump(ChatCompletionChunk(object="chat.completion.chunk", choices=choices, **head, **extra))
        return dump(Completion(object="text_completion", choices=choices, **head, **extra))

    def _choice(self, piece: str | None, finish: str | None, draft: bool = False, role: bool = False) -> Any:
        flag: dict[str, Any] = {"draft": True} if draft else {}
        if self.p.chat:
            delta = (
                Delta(role="assistant", content="")
                if role
                else Delta(content=piece)
                if piece is not None
                else Delta()
            )
            return ChatChunkChoice(index=0, delta=delta, finish_reason=finish, logprobs=None, **flag)  # type: ignore[arg-type]
        return CompletionChoice(index=0, text=piece or "", finish_reason=finish, logprobs=None, **flag)  # type: ignore[arg-type]

    def opening(self) -> dict[str, Any] | None:
        """A chat stream opens with the assistant's role (a text stream has no opening)."""
        return self._chunk([self._choice(None, None, role=True)]) if self.p.chat else None

    def token(self, text: str, draft: bool) -> dict[str, Any]:
        return self._chunk([self._choice(text, None, draft=draft)])

    def finish(self, result: GenerationResult, rest: bool) -> dict[str, Any]:
        extra: dict[str, Any] = {"stats": stats_of(result.stats)} if rest else {}
        if result.error:
            extra["error"] = ErrorDetail(message=result.error, type="server_error", code="generation_failed")
        return self._chunk([self._choice(None, finish_reason(result.stats))], **extra)

    def usage(self, stats: GenerationStats) -> dict[str, Any]:
        """stream_options.include_usage: a last chunk with no choices and the usage."""
        return self._chunk([], usage=usage_of(stats))


class CompletionEvents:
    """A streamed completion (an EventGrammar): unnamed events, one chunk per token, the
    finishing chunk (with stats on the REST API), the usage chunk when asked, an error body
    if the reply fails midway or the server stops, then `data: [DONE]`."""

    def __init__(self, p: ParsedRequest, model: str, rest: bool) -> None:
        self.p, self.rest = p, rest
        self.maker = ChunkMaker(p, model)

    def opening(self) -> list[tuple[str | None, Any]]:
        chunk = self.maker.opening()
        return [] if chunk is None else [(None, chunk)]

    def token(self, event: TokenEvent) -> list[tuple[str | None, Any]]:
        return [(None, self.maker.token(event.text, event.origin is TokenOrigin.DRAFT))]

    def finish(self, result: GenerationResult) -> list[tuple[str | None, Any]]:
        usage = [(None, self.maker.usage(result.stats))] if self.p.include_usage else []
        return [(None, self.maker.finish(result, self.rest)), *usage]

    def failed(self, error: ApiError) -> list[tuple[str | None, Any]]:
        return [(None, error.body())]

    def closing(self) -> list[tuple[str | None, Any]]:
        return [(None, "[DONE]")]


def openai_model(entry: ModelEntry, created: int) -> dict[str, Any]:
    return dump(ModelCard(id=entry.key, object="model", created=created, owned_by=entry.key.split("/", 1)[0]))


def rest_model(entry: ModelEntry, loaded: bool) -> dict[str, Any]:
    return dump(
        RestModel(
            id=entry.key,
            object="model",
            type="llm",
            publisher=entry.key.split("/", 1)[0],
            arch=entry.architecture,
            compatibility_type="gguf" if entry.engine == "llama.cpp" else "mlx",
            engine=entry.engine,
            quantization=entry.quantization,
            parameters=entry.parameter_count,
            state="loaded" if loaded else "not-loaded",
            max_context_length=entry.context_length,
        )
    )


def draft_list(report: DraftReport) -> dict[str, Any]:
    cards = [
        DraftCard(
            id=o.entry.key,
            verdict="translated" if o.translated else "compatible",
            recommended=o.recommended,
            note=o.note,
        )
        for o in report.compatible
    ]
    return dump(DraftList(object="list", model=report.main.key, data=cards))

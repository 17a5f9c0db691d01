"""Anthropic Messages: `POST /v1/messages` (plain or streamed) and `POST /v1/messages/count_tokens`.

A reply is one text block. Streamed, it is Anthropic's event grammar (each event named on
its `event:` line, as the SDKs require): message_start (with the prompt's input tokens),
content_block_start, one content_block_delta per token, content_block_stop, message_delta
(stop reason, usage, and our `stats`), message_stop; `error` when generation fails or the
server stops midway. count_tokens reads the conversation as the model would (its chat
template), without generating.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.events import GenerationResult, StopReason, TokenEvent, TokenOrigin
from app.core.request import GenerationRequest
from app.server.anthropic_messages.parsing import MessagesCall, parse_count, parse_messages
from app.server.anthropic_messages.schema import (
    AnthropicMessageDeltaEvent,
    AnthropicText,
    AnthropicUsage,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    DeltaUsage,
    MessageDelta,
    MessageObject,
    MessageStartEvent,
    MessageStopEvent,
    TextDelta,
    TokenCount,
)
from app.server.errors import ApiError, anthropic_error_body
from app.server.generation_route import (
    ServerContext,
    SseEvent,
    generation_reply,
    json_response,
    on_lease,
    read_json,
    request_info,
)
from app.server.jobs import Started, find_model
from app.server.prompt_tokens import prompt_token_count
from app.server.request_parsing import ParsedRequest
from app.server.responses import stats_of

STOP_REASONS = {StopReason.MAX_TOKENS: "max_tokens", StopReason.STOP_STRING: "stop_sequence"}


def dump(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json")
    for extension in ("draft", "stats"):  # ours, only where they say something
        if data.get(extension) is None:
            data.pop(extension, None)
    return data


class MessageBuilder:
    def __init__(self, call: MessagesCall, started: Started) -> None:
        self.call, self.model = call, started.model
        self.id = "msg_" + secrets.token_hex(12)

    def stop(self, result: GenerationResult) -> MessageDelta:
        reason = STOP_REASONS.get(result.stats.stop_reason, "end_turn")
        stops = self.call.stop_sequences
        sequence = stops[0] if reason == "stop_sequence" and len(stops) == 1 else None
        return MessageDelta(stop_reason=reason, stop_sequence=sequence)  # type: ignore[arg-type]

    def message(self, result: GenerationResult) -> MessageObject:
        s, stop = result.stats, self.stop(result)
        return MessageObject(
            id=self.id,
            type="message",
            role="assistant",
            model=self.model,
            content=[AnthropicText(type="text", text=result.text)],
            stop_reason=stop.stop_reason,
            stop_sequence=stop.stop_sequence,
            usage=AnthropicUsage(
                input_tokens=s.prompt_tokens_count,
                output_tokens=s.predicted_tokens_count,
                cache_creation_input_tokens=0,
                cache_read_input_tokens=0,
            ),
            stats=stats_of(s),
        )


class MessageEvents:
    """The stream of one reply, in Anthropic's event grammar (see the module's docstring)."""

    def __init__(self, call: MessagesCall, started: Started) -> None:
        self.build = MessageBuilder(call, started)
        self.prompt_tokens = started.prompt_tokens or 0

    @staticmethod
    def _event(model: BaseModel) -> SseEvent:
        data = dump(model)
        return data["type"], data

    def opening(self) -> list[SseEvent]:
        start = MessageObject(
            id=self.build.id,
            type="message",
            role="assistant",
            model=self.build.model,
            content=[],
            stop_reason=None,
            stop_sequence=None,
            usage=AnthropicUsage(
                input_tokens=self.prompt_tokens,
                output_tokens=0,
                cache_creation_input_tokens=0,
                cache_read_input_tokens=0,
            ),
        )
        block = AnthropicText(type="text", text="")
        return [
            self._event(MessageStartEvent(type="message_start", message=start)),
            self._event(ContentBlockStartEvent(type="content_block_start", index=0, content_block=block)),
        ]

    def token(self, event: TokenEvent) -> list[SseEvent]:
        delta = ContentBlockDeltaEvent(
            type="content_block_delta",
            index=0,
            delta=TextDelta(type="text_delta", text=event.text),
            draft=True if event.origin is TokenOrigin.DRAFT else None,
        )
        return [self._event(delta)]

    def finish(self, result: GenerationResult) -> list[SseEvent]:
        if result.error:
            return self.failed(ApiError(500, f"generation failed: {result.error}", "generation_failed"))
        s = result.stats
        end = AnthropicMessageDeltaEvent(
            type="message_delta",
            delta=self.build.stop(result),
            usage=DeltaUsage(input_tokens=s.prompt_tokens_count, output_tokens=s.predicted_tokens_count),
            stats=stats_of(s),
        )
        return [
            self._event(ContentBlockStopEvent(type="content_block_stop", index=0)),
            self._event(end),
            self._event(MessageStopEvent(type="message_stop")),
        ]

    def failed(self, error: ApiError) -> list[SseEvent]:
        return [("error", anthropic_error_body(error))]

    def closing(self) -> list[SseEvent]:
        return []


class MessagesApi:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx

    async def create(self, request: Request) -> Response:
        call = parse_messages(await read_json(self.ctx, request))

        def reply(started: Started, result: GenerationResult) -> Response:
            return json_response(dump(MessageBuilder(call, started).message(result)))

        return await generation_reply(
            self.ctx, request, call.parsed, reply, lambda started: MessageEvents(call, started)
        )

    async def count_tokens(self, request: Request) -> Response:
        parsed = parse_count(await read_json(self.ctx, request))
        request_info(request.scope).model = parsed.model
        model, count = await on_lease(request, lambda cancel: self._count(parsed, cancel))
        request_info(request.scope).model = model
        return json_response(dump(TokenCount(input_tokens=count)))

    def _count(self, parsed: ParsedRequest, cancel: threading.Event) -> tuple[str, int]:
        """On a lease of the model alone (loaded on demand like for a reply; in line behind
        the replies it is generating, since it reads the model's own tokenizer)."""
        runtime, jit = self.ctx.runtime, self.ctx.jit
        entry = find_model(runtime, parsed.model)
        lease = runtime.lease(entry.key, None, gone=cancel.is_set, cancel=cancel)
        loading = jit.before_lease(lease.keys)
        with lease:
            jit.after_lease(loading, lease.keys, parsed.ttl)
            return entry.key, prompt_token_count(lease.main, GenerationRequest(messages=parsed.messages))


def routes(ctx: ServerContext) -> list[Route]:
    api = MessagesApi(ctx)
    return [
        Route("/v1/messages", api.create, methods=["POST"]),
        Route("/v1/messages/count_tokens", api.count_tokens, methods=["POST"]),
    ]

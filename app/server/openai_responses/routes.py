"""OpenAI Responses: `POST /v1/responses` (plain or streamed) and `GET /v1/responses/{id}`.

A reply is one assistant message with one output_text part. Streamed, it is OpenAI's event
grammar, each event numbered (`sequence_number`): response.created, response.in_progress,
response.output_item.added, response.content_part.added, one response.output_text.delta per
token, response.output_text.done, response.content_part.done, response.output_item.done,
then response.completed (response.incomplete when max_output_tokens cut it short,
response.failed when generation failed or the server stopped). Replies sent with store
(the default) are kept in memory, the last 256, for previous_response_id and retrieval.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.events import GenerationResult, StopReason, TokenEvent, TokenOrigin
from app.server.errors import ApiError
from app.server.generation_route import (
    ServerContext,
    SseEvent,
    generation_reply,
    json_response,
    read_json,
)
from app.server.jobs import Started
from app.server.openai_responses.parsing import ResponsesCall, kept_reply, parse_responses
from app.server.openai_responses.schema import (
    ContentPartEvent,
    IncompleteDetails,
    InputTokensDetails,
    ItemStatus,
    OutputItemEvent,
    OutputTokensDetails,
    Reasoning,
    ResponseError,
    ResponseEvent,
    ResponseObject,
    ResponsesErrorEvent,
    ResponsesOutputMessage,
    ResponsesOutputText,
    ResponseStatus,
    ResponseUsage,
    TextConfig,
    TextDeltaEvent,
    TextDoneEvent,
    TextFormat,
)
from app.server.response_store import ResponseStore, new_response_id
from app.server.responses import stats_of


def dump(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json")
    if data.get("draft") is None:
        data.pop("draft", None)  # the extension flag, on accepted draft tokens only
    return data


class ResponseBuilder:
    """The response objects of one reply, all with the same id and item id."""

    def __init__(self, call: ResponsesCall, model: str) -> None:
        self.call, self.model = call, model
        self.id = new_response_id("resp_")
        self.item_id = "msg_" + secrets.token_hex(24)
        self.created = int(time.time())

    def message(self, text: str | None, status: ItemStatus) -> ResponsesOutputMessage:
        content = (
            []
            if text is None
            else [ResponsesOutputText(type="output_text", text=text, annotations=[], logprobs=[])]
        )
        return ResponsesOutputMessage(
            id=self.item_id, type="message", role="assistant", status=status, content=content
        )

    def response(
        self,
        status: ResponseStatus,
        output: list[ResponsesOutputMessage],
        result: GenerationResult | None = None,
        error: ResponseError | None = None,
    ) -> ResponseObject:
        req, s = self.call.request, result.stats if result is not None else None
        usage = None
        if s is not None:
            usage = ResponseUsage(
                input_tokens=s.prompt_tokens_count,
                input_tokens_details=InputTokensDetails(cached_tokens=0),
                output_tokens=s.predicted_tokens_count,
                output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
                total_tokens=s.prompt_tokens_count + s.predicted_tokens_count,
            )
        cut = s is not None and s.stop_reason is StopReason.MAX_TOKENS
        return ResponseObject(
            id=self.id,
            object="response",
            created_at=self.created,
            status=status,
            error=error,
            incomplete_details=IncompleteDetails(reason="max_output_tokens") if cut else None,
            instructions=req.instructions,
            max_output_tokens=req.max_output_tokens,
            model=self.model,
            output=output,
            parallel_tool_calls=bool(req.parallel_tool_calls),
            previous_response_id=req.previous_response_id,
            reasoning=Reasoning(effort=None, summary=None),
            store=req.store is not False,
            temperature=req.temperature,
            text=TextConfig(format=TextFormat(type="text")),
            tool_choice=req.tool_choice or "auto",
            tools=[],
            top_p=req.top_p,
            truncation="disabled",
            usage=usage,
            metadata=req.metadata or {},
            stats=stats_of(s) if s is not None else None,
        )

    def final(self, result: GenerationResult) -> ResponseObject:
        """A finished reply: completed, or incomplete when max_output_tokens cut it short."""
        if result.stats.stop_reason is StopReason.MAX_TOKENS:
            return self.response("incomplete", [self.message(result.text, "incomplete")], result)
        return self.response("completed", [self.message(result.text, "completed")], result)


class ResponseEvents:
    """The stream of one reply, in OpenAI's event grammar (see the module's docstring)."""

    def __init__(self, api: ResponsesApi, call: ResponsesCall, model: str) -> None:
        self.api, self.build = api, ResponseBuilder(call, model)
        self.sequence = 0
        self.text: list[str] = []

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence - 1

    def _event(self, model: BaseModel) -> SseEvent:
        data = dump(model)
        return data["type"], data

    def _whole(self, kind: str, response: ResponseObject) -> SseEvent:
        return self._event(ResponseEvent(type=kind, sequence_number=self._next(), response=response))  # type: ignore[arg-type]

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.build.item_id, "output_index": 0, "content_index": 0}

    def opening(self) -> list[SseEvent]:
        started = self.build.response("in_progress", [])
        empty_part = ResponsesOutputText(type="output_text", text="", annotations=[], logprobs=[])
        return [
            self._whole("response.created", started),
            self._whole("response.in_progress", started),
            self._event(
                OutputItemEvent(
                    type="response.output_item.added",
                    sequence_number=self._next(),
                    output_index=0,
                    item=self.build.message(None, "in_progress"),
                )
            ),
            self._event(
                ContentPartEvent(
                    type="response.content_part.added",
                    sequence_number=self._next(),
                    part=empty_part,
                    **self._where(),
                )
            ),
        ]

    def token(self, event: TokenEvent) -> list[SseEvent]:
        self.text.append(event.text)
        drafted = True if event.origin is TokenOrigin.DRAFT else None
        delta = TextDeltaEvent(
            type="response.output_text.delta",
            sequence_number=self._next(),
            delta=event.text,
            logprobs=[],
            draft=drafted,
            **self._where(),
        )
        return [self._event(delta)]

    def finish(self, result: GenerationResult) -> list[SseEvent]:
        if result.error:
            return self.failed(ApiError(500, f"generation failed: {result.error}", "generation_failed"))
        final = self.build.final(result)
        message = final.output[0]
        text = message.content[0]
        events = [
            self._event(
                TextDoneEvent(
                    type="response.output_text.done",
                    sequence_number=self._next(),
                    text=result.text,
                    logprobs=[],
                    **self._where(),
                )
            ),
            self._event(
                ContentPartEvent(
                    type="response.content_part.done",
                    sequence_number=self._next(),
                    part=text,
                    **self._where(),
                )
            ),
            self._event(
                OutputItemEvent(
                    type="response.output_item.done",
                    sequence_number=self._next(),
                    output_index=0,
                    item=message,
                )
            ),
            self._whole(
                "response.incomplete" if final.status == "incomplete" else "response.completed", final
            ),
        ]
        self.api.keep(self.build.call, final)
        return events

    def failed(self, error: ApiError) -> list[SseEvent]:
        partial = self.build.message("".join(self.text), "incomplete")
        failed = self.build.response(
            "failed", [partial], error=ResponseError(code=error.code, message=error.message)
        )
        code = ResponsesErrorEvent(
            type="error",
            sequence_number=self._next(),
            code=error.code,
            message=error.message,
            param=error.param,
        )
        return [self._event(code), self._whole("response.failed", failed)]

    def closing(self) -> list[SseEvent]:
        return []


class ResponsesApi:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.store = ResponseStore()  # this server's life only

    def keep(self, call: ResponsesCall, final: ResponseObject) -> None:
        if final.store:
            body = dump(final)
            self.store.put(kept_reply(call, final.id, final.output[0].content[0].text, body))

    async def create(self, request: Request) -> Response:
        call = parse_responses(await read_json(self.ctx, request), self.store)

        def reply(started: Started, result: GenerationResult) -> Response:
            final = ResponseBuilder(call, started.model).final(result)
            self.keep(call, final)
            return json_response(dump(final))

        return await generation_reply(
            self.ctx, request, call.parsed, reply, lambda started: ResponseEvents(self, call, started.model)
        )

    async def retrieve(self, request: Request) -> Response:
        reply_id = request.path_params["response_id"]
        kept = self.store.get(reply_id)
        if kept is None:
            raise ApiError(
                404,
                f"response {reply_id!r} not found: this server keeps its last replies in memory only",
                "response_not_found",
            )
        return json_response(kept.body)


def routes(ctx: ServerContext) -> list[Route]:
    api = ResponsesApi(ctx)
    return [
        Route("/v1/responses", api.create, methods=["POST"]),
        Route("/v1/responses/{response_id}", api.retrieve, methods=["GET"]),
    ]

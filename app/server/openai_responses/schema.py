"""OpenAI Responses (`POST /v1/responses`): the request, the response object and the stream's
events, as pydantic models. The settings are our declared ones (app/core/model_settings.py),
max_tokens under Responses' name max_output_tokens; draft_model and the draft settings are
our extension fields, and so is `stats` on the response."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.server.schema import STRICT, Name, Seed, Stats, Ttl, settings_model

RENAMED = {"max_tokens": "max_output_tokens"}


# --- the request ---------------------------------------------------------------------------------
class ResponsesInputPart(BaseModel):
    """A text part of a message: input_text (output_text in a reply sent back as history)."""

    model_config = STRICT
    type: Literal["input_text", "output_text"]
    text: str


class ResponsesInputMessage(BaseModel):
    model_config = STRICT
    type: Literal["message"] | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ResponsesInputPart] = Field(
        description="text, or text parts (joined with a new line)"
    )


class TextFormat(BaseModel):
    model_config = STRICT
    type: Literal["text"]


class TextConfig(BaseModel):
    model_config = STRICT
    format: TextFormat | None = None


ResponsesSettings: type[BaseModel] = settings_model("ResponsesSettings", RENAMED)


class ResponsesRequest(ResponsesSettings):  # type: ignore[misc,valid-type]
    model: Name
    input: str | Annotated[list[ResponsesInputMessage], Field(min_length=1)] = Field(
        description="a user message, or messages (roles user, assistant, system, developer)"
    )
    instructions: str | None = Field(default=None, description="a system message first (not carried over)")
    previous_response_id: str | None = Field(
        default=None, description="continue a reply this server still keeps (the last 256, in memory)"
    )
    stream: bool | None = False
    store: bool | None = Field(default=True, description="keep this reply for previous_response_id")
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    tool_choice: Literal["none", "auto"] | None = None
    truncation: Literal["disabled"] | None = None
    text: TextConfig | None = None
    seed: Seed | None = None
    ttl: Ttl | None = None


# --- the response --------------------------------------------------------------------------------
class ResponsesOutputText(BaseModel):
    type: Literal["output_text"]
    text: str
    annotations: list[Any]
    logprobs: list[Any]


ItemStatus = Literal["in_progress", "completed", "incomplete"]
ResponseStatus = Literal["in_progress", "completed", "incomplete", "failed"]


class ResponsesOutputMessage(BaseModel):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    status: ItemStatus
    content: list[ResponsesOutputText]


class InputTokensDetails(BaseModel):
    cached_tokens: int


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens"]


class ResponseError(BaseModel):
    code: str
    message: str


class Reasoning(BaseModel):
    effort: None
    summary: None


class ResponseObject(BaseModel):
    id: str
    object: Literal["response"]
    created_at: int
    status: ResponseStatus
    error: ResponseError | None
    incomplete_details: IncompleteDetails | None
    instructions: str | None
    max_output_tokens: int | None
    model: str
    output: list[ResponsesOutputMessage]
    parallel_tool_calls: bool
    previous_response_id: str | None
    reasoning: Reasoning
    store: bool
    temperature: float | None
    text: TextConfig
    tool_choice: Literal["none", "auto"]
    tools: list[Any]
    top_p: float | None
    truncation: Literal["disabled"]
    usage: ResponseUsage | None
    metadata: dict[str, str]
    stats: Stats | None = Field(description="ours: speculative decoding stats (once the reply is done)")


# --- the stream ----------------------------------------------------------------------------------
class ResponseEvent(BaseModel):
    """`response.created`, `response.in_progress`, and the last one: `response.completed`,
    `response.incomplete` (max_output_tokens reached) or `response.failed`."""

    type: Literal[
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    ]
    sequence_number: int
    response: ResponseObject


class OutputItemEvent(BaseModel):
    type: Literal["response.output_item.added", "response.output_item.done"]
    sequence_number: int
    output_index: int
    item: ResponsesOutputMessage


class ContentPartEvent(BaseModel):
    type: Literal["response.content_part.added", "response.content_part.done"]
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    part: ResponsesOutputText


class TextDeltaEvent(BaseModel):
    type: Literal["response.output_text.delta"]
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    delta: str = Field(description="one token's text (empty while a character is incomplete)")
    logprobs: list[Any]
    draft: bool | None = Field(default=None, description="ours: true when the token was drafted and accepted")


class TextDoneEvent(BaseModel):
    type: Literal["response.output_text.done"]
    sequence_number: int
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any]


class ResponsesErrorEvent(BaseModel):
    type: Literal["error"]
    sequence_number: int
    code: str
    message: str
    param: str | None


STREAM_EVENTS: tuple[type[BaseModel], ...] = (
    ResponseEvent,
    OutputItemEvent,
    ContentPartEvent,
    TextDeltaEvent,
    TextDoneEvent,
    ResponsesErrorEvent,
)

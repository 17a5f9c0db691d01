"""Anthropic Messages (`POST /v1/messages`, `POST /v1/messages/count_tokens`): the requests,
the message and the stream's events, as pydantic models. The settings are our declared ones
(app/core/model_settings.py) under the names Anthropic shares with them (max_tokens,
temperature, top_p, top_k); draft_model, the draft settings, min_p and repeat_penalty are our
extension fields, and so is `stats` on the message and on the stream's message_delta."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core import model_settings
from app.server.schema import STRICT, Name, Seed, Stats, Stops, Ttl, settings_model

_MAX_TOKENS = model_settings.SPECS["max_tokens"]


# --- the requests --------------------------------------------------------------------------------
class TextBlock(BaseModel):
    """A text block ({"type": "text", "text": ...}); cache_control and the like are hints that
    change nothing here and are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    type: Literal["text"]
    text: str


class AnthropicInputMessage(BaseModel):
    model_config = STRICT
    role: Literal["user", "assistant"]
    content: str | list[TextBlock] = Field(description="text, or text blocks (joined with a new line)")


class _Conversation(BaseModel):
    model_config = STRICT
    model: Name
    messages: Annotated[list[AnthropicInputMessage], Field(min_length=1)]
    system: str | list[TextBlock] | None = Field(default=None, description="the system prompt")


MessagesSettings: type[BaseModel] = settings_model("MessagesSettings")


class MessagesRequest(MessagesSettings, _Conversation):  # type: ignore[misc,valid-type]
    max_tokens: Annotated[int, Field(ge=_MAX_TOKENS.minimum, le=_MAX_TOKENS.maximum)] = Field(
        description="tokens to generate at most"
    )
    stop_sequences: Stops | None = None
    stream: bool | None = False
    metadata: dict[str, Any] | None = None
    seed: Seed | None = None
    ttl: Ttl | None = None


class CountTokensRequest(_Conversation):
    """The conversation only: what the reply would read."""

    ttl: Ttl | None = None


# --- the message ---------------------------------------------------------------------------------
class AnthropicText(BaseModel):
    type: Literal["text"]
    text: str


StopReasonName = Literal["end_turn", "max_tokens", "stop_sequence"]


class AnthropicUsage(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


class MessageObject(BaseModel):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[AnthropicText]
    stop_reason: StopReasonName | None
    stop_sequence: str | None = Field(
        description="the stop sequence that ended the reply (null with several: which one is not known)"
    )
    usage: AnthropicUsage
    stats: Stats | None = Field(default=None, description="ours: speculative decoding stats")


class TokenCount(BaseModel):
    input_tokens: int


# --- the stream ----------------------------------------------------------------------------------
class MessageStartEvent(BaseModel):
    type: Literal["message_start"]
    message: MessageObject


class ContentBlockStartEvent(BaseModel):
    type: Literal["content_block_start"]
    index: int
    content_block: AnthropicText


class TextDelta(BaseModel):
    type: Literal["text_delta"]
    text: str


class ContentBlockDeltaEvent(BaseModel):
    type: Literal["content_block_delta"]
    index: int
    delta: TextDelta
    draft: bool | None = Field(default=None, description="ours: true when the token was drafted and accepted")


class ContentBlockStopEvent(BaseModel):
    type: Literal["content_block_stop"]
    index: int


class MessageDelta(BaseModel):
    stop_reason: StopReasonName | None
    stop_sequence: str | None


class DeltaUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class AnthropicMessageDeltaEvent(BaseModel):
    type: Literal["message_delta"]
    delta: MessageDelta
    usage: DeltaUsage
    stats: Stats = Field(description="ours: speculative decoding stats")


class MessageStopEvent(BaseModel):
    type: Literal["message_stop"]


class AnthropicErrorObject(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    """Also the body of every error response."""

    type: Literal["error"]
    error: AnthropicErrorObject


STREAM_EVENTS: tuple[type[BaseModel], ...] = (
    MessageStartEvent,
    ContentBlockStartEvent,
    ContentBlockDeltaEvent,
    ContentBlockStopEvent,
    AnthropicMessageDeltaEvent,
    MessageStopEvent,
    AnthropicError,
)

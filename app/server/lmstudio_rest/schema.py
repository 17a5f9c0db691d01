"""LM Studio's native REST API v1 (`/api/v1/...`): requests, results and the chat stream's
events, as pydantic models. The chat settings are our declared ones
(app/core/model_settings.py), max_tokens under LM Studio's name max_output_tokens;
draft_model and the draft settings are our extension fields (LM Studio's v1 has none), and
the draft stats extend `stats`, as they do on /api/v0."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from app.core import model_settings
from app.server.schema import STRICT, Name, Seed, Stats, Ttl, settings_model

RENAMED = {"max_tokens": "max_output_tokens"}
_CONTEXT = model_settings.SPECS["context_length"]


# --- chat ----------------------------------------------------------------------------------------
class RestInputPart(BaseModel):
    """A text part of the user's message."""

    model_config = STRICT
    type: Literal["message", "text"]
    content: str


ChatSettings: type[BaseModel] = settings_model("RestChatSettings", RENAMED)


class ChatRequest(ChatSettings):  # type: ignore[misc,valid-type]
    model: Name
    input: str | Annotated[list[RestInputPart], Field(min_length=1)] = Field(
        description="the user's message: text, or text parts (joined with a new line)"
    )
    system_prompt: str | None = Field(default=None, description="kept for follow-ups unless one is given")
    stream: bool | None = False
    store: bool | None = Field(default=True, description="keep the chat for previous_response_id")
    previous_response_id: Annotated[str, Field(pattern=r"^resp_")] | None = Field(
        default=None, description="continue a chat this server still keeps (the last 256, in memory)"
    )
    reasoning: Literal["off"] | None = None
    seed: Seed | None = None
    ttl: Ttl | None = None


class RestOutputMessage(BaseModel):
    type: Literal["message"]
    content: str


class ChatStats(Stats):
    """LM Studio's stats, then ours (the draft's among them)."""

    input_tokens: int
    total_output_tokens: int
    reasoning_output_tokens: int
    time_to_first_token_seconds: float


class ChatResult(BaseModel):
    model_instance_id: str
    output: list[RestOutputMessage]
    stats: ChatStats
    response_id: str | None = Field(default=None, description="with store (the default)")


# --- the chat stream -----------------------------------------------------------------------------
class ChatStartEvent(BaseModel):
    type: Literal["chat.start"]
    model_instance_id: str


class StepEvent(BaseModel):
    type: Literal["prompt_processing.start", "prompt_processing.end", "message.start", "message.end"]


class ProgressEvent(BaseModel):
    type: Literal["prompt_processing.progress"]
    progress: float


class RestMessageDeltaEvent(BaseModel):
    type: Literal["message.delta"]
    content: str
    draft: bool | None = Field(default=None, description="ours: true when the token was drafted and accepted")


class RestErrorDetail(BaseModel):
    type: str
    message: str
    code: str | None
    param: str | None


class RestErrorEvent(BaseModel):
    """Also the body of every error response (without `type`)."""

    type: Literal["error"]
    error: RestErrorDetail


class ChatEndEvent(BaseModel):
    type: Literal["chat.end"]
    result: ChatResult


STREAM_EVENTS: tuple[type[BaseModel], ...] = (
    ChatStartEvent,
    StepEvent,
    ProgressEvent,
    RestMessageDeltaEvent,
    RestErrorEvent,
    ChatEndEvent,
)


class RestError(BaseModel):
    error: RestErrorDetail


# --- models --------------------------------------------------------------------------------------
class Quantization(BaseModel):
    name: str | None
    bits_per_weight: float | None


class InstanceConfig(BaseModel):
    context_length: int


class LoadedInstance(BaseModel):
    id: str
    config: InstanceConfig


class Capabilities(BaseModel):
    vision: bool
    trained_for_tool_use: bool


class RestV1Model(BaseModel):
    type: Literal["llm"]
    publisher: str
    key: str
    display_name: str
    architecture: str | None
    quantization: Quantization | None
    size_bytes: int
    params_string: str | None
    loaded_instances: list[LoadedInstance]
    max_context_length: int | None
    format: Literal["gguf", "mlx"]
    capabilities: Capabilities
    description: str | None


class RestV1ModelList(BaseModel):
    models: list[RestV1Model]


class LoadRequest(BaseModel):
    model_config = STRICT
    model: Name
    context_length: Annotated[int, Field(ge=_CONTEXT.minimum, le=_CONTEXT.maximum)] | None = Field(
        default=None, description=f"{_CONTEXT.description} (omitted: the model's own setting)"
    )
    echo_load_config: bool | None = False


class LoadConfig(BaseModel):
    context_length: int


class LoadResult(BaseModel):
    type: Literal["llm"]
    instance_id: str
    load_time_seconds: float
    status: Literal["loaded"]
    load_config: LoadConfig | None = Field(default=None, description="with echo_load_config")


class UnloadRequest(BaseModel):
    model_config = STRICT
    instance_id: Name


class UnloadResult(BaseModel):
    instance_id: str


def dump(
    model: BaseModel, optional: tuple[str, ...] = ("draft", "response_id", "load_config")
) -> dict[str, Any]:
    """A model as JSON data; the optional fields are left out when they have nothing to say."""
    data = model.model_dump(mode="json")
    for name in optional:
        if data.get(name) is None:
            data.pop(name, None)
    return data

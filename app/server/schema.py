"""The HTTP API's request and response models, generated from the settings declarations.

Each per-request setting (temperature, draft_max, ...) in app/core/model_settings.py becomes a
strictly typed field with its declared range and description, so validation, /openapi.json
and the docs derive from one table and cannot drift. Strict means: no text taken for a
number, no NaN or infinities, whole numbers where the setting is an integer, true/false only
for switches. Unknown fields are ignored (clients send many); fields that would change the
reply in ways this server cannot honour are refused by request_parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from app.core import model_settings
from app.core.events import StopReason

STRICT = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)
MAX_NAME = 1024  # characters in a model name
MAX_STOPS = 16
MAX_TTL = 30 * 24 * 3600


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain a NUL character")
    return text


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_no_nul)]


# --- requests ----------------------------------------------------------------------------------
class ContentPart(BaseModel):
    """One part of a message's content: {"type": "text", "text": ...}; other types (images,
    audio, files) are read so they can be refused with a clear message."""

    model_config = ConfigDict(strict=True, extra="allow")
    type: str
    text: str | None = None


Content = str | list[ContentPart]


class TextMessage(BaseModel):
    """A system, developer, user or tool message: its content is required (as OpenAI's API
    has it: a tool's result without content says nothing)."""

    model_config = STRICT
    role: Literal["system", "developer", "user", "tool"]
    content: Content = Field(description="text, or a list of text parts (joined)")
    name: str | None = None
    tool_call_id: str | None = None


class AssistantInput(BaseModel):
    """An assistant message in the history; one that made a tool call may have no content."""

    model_config = STRICT
    role: Literal["assistant"]
    content: Content | None = Field(default=None, description="text, or a list of text parts (joined)")
    name: str | None = None


def _message_kind(value: Any) -> str | None:
    role = value.get("role") if isinstance(value, dict) else getattr(value, "role", None)
    if role == "assistant":
        return "AssistantInput"
    return "TextMessage" if role in ("system", "developer", "user", "tool") else None


# The tags name the models (not the roles), so an error's place reads "messages[0].content".
Message = Annotated[
    Annotated[TextMessage, Tag("TextMessage")] | Annotated[AssistantInput, Tag("AssistantInput")],
    Discriminator(
        _message_kind,
        custom_error_type="unknown_role",
        custom_error_message="needs a role: system, developer, user, assistant or tool",
    ),
]


class StreamOptions(BaseModel):
    model_config = STRICT
    include_usage: bool | None = Field(default=None, description="send a last chunk with the token usage")


class Prediction(BaseModel):
    """Predicted Outputs: text expected in the reply; it drafts like prompt lookup."""

    model_config = STRICT
    type: Literal["content"]
    content: Content


def _setting_field(spec: model_settings.SettingSpec) -> Any:
    extra: dict[str, Any] = {} if spec.default is None else {"default": spec.default}
    kind: Any = (
        Literal[spec.choices]
        if spec.choices
        else Annotated[str, Field(max_length=MAX_NAME), AfterValidator(_no_nul)]
        if spec.kind is str
        else spec.kind
    )
    info = Field(
        default=None,
        ge=spec.minimum,
        le=spec.maximum,
        description=f"{spec.description} (omitted: the model's own setting)",
        json_schema_extra=extra or None,
    )
    return (Annotated[kind | None, info], None)


def settings_model(name: str, rename: Mapping[str, str] | None = None) -> type[BaseModel]:
    """The per-request settings, one field per declared setting with an API name, under the
    names an API gives them (`rename`: our name -> the API's, e.g. Responses' max_output_tokens
    for max_tokens)."""
    rename = rename or {}
    fields = {rename.get(f, f): _setting_field(spec) for f, spec in model_settings.api_specs().items()}
    return create_model(name, __config__=STRICT, **fields)


def settings_overrides(req: BaseModel, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Setting name -> value for each setting a validated request gives (its draft apart)."""
    rename = rename or {}
    out: dict[str, Any] = {}
    for api_field, spec in model_settings.api_specs().items():
        value = getattr(req, rename.get(api_field, api_field))
        if value is not None and spec.name != "draft_model":
            out[spec.name] = value
    return out


GenerationSettings: type[BaseModel] = settings_model("GenerationSettings")
_MAX_TOKENS = model_settings.SPECS["max_tokens"]
Seed = Annotated[int, Field(ge=-(2**63), le=2**64 - 1)]
Ttl = Annotated[
    int, Field(ge=1, le=MAX_TTL, description="seconds a model loaded for this request stays loaded when idle")
]
Stops = Annotated[list[str], Field(max_length=MAX_STOPS)]


class _RequestCommon(GenerationSettings):  # type: ignore[misc,valid-type]
    model: Name
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    stop: str | Stops | None = None
    seed: Annotated[int, Field(ge=-(2**63), le=2**64 - 1, description="-1: a random seed")] | None = None
    n: Annotated[int, Field(ge=1, le=1, description="choices per request: 1 only")] | None = None
    ttl: Ttl | None = None
    prediction: Prediction | None = None


class ChatCompletionRequest(_RequestCommon):
    messages: Annotated[list[Message], Field(min_length=1)]
    max_completion_tokens: (
        Annotated[
            int,
            Field(
                ge=_MAX_TOKENS.minimum,
                le=_MAX_TOKENS.maximum,
                description="the same as max_tokens (OpenAI's newer name); with both, the smaller applies",
            ),
        ]
        | None
    ) = None


class CompletionRequest(_RequestCommon):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] = Field(
        description="the prompt: text, or a list holding one text (one prompt per request)"
    )


# --- responses ---------------------------------------------------------------------------------
FinishReason = Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int = Field(
        description="the prompt the model read (after Context Overflow left turns out)"
    )
    completion_tokens: int
    total_tokens: int
    context_length: int | None = Field(default=None, description="the tokens the model can see at once")


class Stats(BaseModel):
    """Speculative decoding stats (REST API): total = accepted + rejected + ignored."""

    tokens_per_second: float
    time_to_first_token: float
    generation_time: float
    stop_reason: Literal[tuple(r.value for r in StopReason)]  # type: ignore[valid-type]
    draft_model: str | None
    total_draft_tokens_count: int
    accepted_draft_tokens_count: int
    rejected_draft_tokens_count: int
    ignored_draft_tokens_count: int
    accepted_after_stop_count: int = Field(
        description="accepted draft tokens the reply does not show (it ended first: end of text, stop string)"
    )
    verify_steps: int = Field(description="main-model decode calls after the prompt")
    mean_tokens_per_step: float | None = Field(description="tokens per verify step (1.0: plain decoding)")
    acceptance_rate: float | None = Field(description="accepted / (accepted + rejected)")
    acceptance_by_position: list[float] = Field(
        description="share of rounds whose draft reached position i that had it accepted"
    )
    draft_note: str | None = Field(description="why drafting stopped or never started, if it did")
    rounds: list[list[int]] = Field(
        default_factory=list,
        description="[sent, accepted] draft tokens per verify step of a reply with a draft (the chart)",
    )
    context_length: int = Field(description="the tokens the model can see at once")
    truncated_turns: int = Field(
        description="earlier messages the model could not see: left out by the Context Overflow policy"
    )


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    stats: Stats | None = Field(default=None, description="REST API (/api/v0) only")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: Delta
    finish_reason: FinishReason | None
    logprobs: None = None
    draft: bool | None = Field(default=None, description="true when this token was drafted and accepted")


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = Field(default=None, description="last chunk, with stream_options.include_usage")
    stats: Stats | None = Field(default=None, description="REST API (/api/v0): on the chunk that finishes")
    error: ErrorDetail | None = Field(default=None, description="when the generation failed midway")


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: FinishReason | None
    logprobs: None = None
    draft: bool | None = Field(
        default=None, description="streamed: true when this token was drafted and accepted"
    )


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    stats: Stats | None = Field(default=None, description="REST API (/api/v0) only")
    error: ErrorDetail | None = Field(default=None, description="streamed: when the generation failed midway")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]


class RestModel(BaseModel):
    id: str
    object: Literal["model"]
    type: Literal["llm"]
    publisher: str
    arch: str
    compatibility_type: Literal["gguf", "mlx"]
    engine: str
    quantization: str | None
    parameters: int
    state: Literal["loaded", "not-loaded"]
    max_context_length: int | None


class RestModelList(BaseModel):
    object: Literal["list"]
    data: list[RestModel]


class DraftCard(BaseModel):
    id: str
    verdict: Literal["compatible", "translated"]
    recommended: bool = Field(description="within LM Studio's size guide")
    note: str


class DraftList(BaseModel):
    """The drafts the library has for a model, exact matches first (another Specula using this
    server's models fills its draft list from it; prompt lookup is always offered too)."""

    object: Literal["list"]
    model: str
    data: list[DraftCard]

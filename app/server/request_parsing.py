"""From a request body to what a generation needs, or a clear 400.

The body is validated against the models generated from the settings declarations
(app/server/schema.py), then turned into our own terms: messages with their roles (text
parts joined, images refused: the models served here read text), the settings the request
overrides, stop strings, a prediction. Fields a client may send that this server cannot
honour (tools, logprobs, several choices...) are refused by name rather than ignored, so a
client never mistakes a plain reply for what it asked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.core.errors import InvalidRequestError
from app.core.request import ChatMessage, DraftSettings, GenerationRequest, SamplingSettings, overflow_policy
from app.engines.drafting import PROMPT_LOOKUP_KEY
from app.server.errors import bad_request, from_validation
from app.server.schema import (
    AssistantInput,
    ChatCompletionRequest,
    CompletionRequest,
    ContentPart,
    TextMessage,
    settings_overrides,
)

PART_JOINER = "\n"  # text parts of one message are joined with a new line
IMAGE_PARTS = {"image_url", "input_image", "image"}
OTHER_MEDIA = {"input_audio", "audio", "file", "input_file", "video", "video_url"}


def empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or value in ("", [], {})


# field -> (harmless value?, why it is refused)
UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "logprobs": (empty, "log probabilities are not supported by this server"),
    "top_logprobs": (empty, "log probabilities are not supported by this server"),
    "tools": (empty, "tool calling is not supported by this server"),
    "functions": (empty, "function calling is not supported by this server"),
    "tool_choice": (lambda v: v in (None, "none", "auto"), "tool calling is not supported by this server"),
    "function_call": (lambda v: v in (None, "none", "auto"), "function calling is not supported"),
    "response_format": (
        lambda v: v is None or (isinstance(v, dict) and v.get("type") == "text"),
        "only plain text replies are supported (response_format type 'text')",
    ),
    "logit_bias": (empty, "logit_bias is not supported by this server"),
    "frequency_penalty": (empty, "frequency_penalty is not supported; use repeat_penalty"),
    "presence_penalty": (empty, "presence_penalty is not supported; use repeat_penalty"),
    "echo": (empty, "echo is not supported by this server"),
    "best_of": (lambda v: v in (None, 1), "best_of is not supported by this server"),
    "suffix": (empty, "suffix (fill in the middle) is not supported by this server"),
    "modalities": (lambda v: v in (None, ["text"]), "only text replies are supported"),
    "audio": (empty, "audio replies are not supported by this server"),
    "n": (
        lambda v: not (isinstance(v, int) and not isinstance(v, bool) and v > 1),
        "n > 1 is not supported: one choice per request (send several requests)",
    ),
}


@dataclass
class ParsedRequest:
    chat: bool
    model: str
    stream: bool = False
    include_usage: bool = False
    draft_model: str | None = None  # as asked: None (the model's default), "" (none) or a name
    overrides: dict[str, Any] = field(default_factory=dict)  # setting name -> value
    seed: int | None = None
    stop: tuple[str, ...] = ()
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    prediction: str | None = None
    ttl: int | None = None
    count_prompt: bool = False  # Started says the prompt's size (a stream that announces it first)

    @property
    def names_a_draft_model(self) -> bool:
        """The request names a draft model (not none, not prompt lookup)."""
        return bool(self.draft_model) and self.draft_model != PROMPT_LOOKUP_KEY

    def settings(self, draft_key: str | None = None) -> dict[str, Any]:
        """The settings this request gives (the draft by its library key when resolved)."""
        values = dict(self.overrides)
        if self.draft_model is not None:
            values["draft_model"] = draft_key or self.draft_model
        return values

    def generation_request(self, values: dict[str, Any], engine: str) -> GenerationRequest:
        return GenerationRequest(
            messages=self.messages,
            prompt=self.prompt,
            max_tokens=int(values["max_tokens"]),
            sampling=SamplingSettings.from_values(values, seed=self.seed),
            draft=DraftSettings.from_values(values, engine),
            stop=self.stop,
            context_overflow=overflow_policy(values),
        )


def refuse_unsupported(body: dict[str, Any], table: dict[str, tuple[Callable[[Any], bool], str]]) -> None:
    """A 400 naming the first field of `table` the body sets to something this server
    cannot honour (field -> (harmless value?, why it is refused))."""
    for name, (harmless, why) in table.items():
        if name in body and not harmless(body[name]):
            raise bad_request(why, "unsupported_parameter", param=name)


def requested_draft(name: str | None) -> str | None:
    """A request's draft_model as ParsedRequest takes it: None (the model's default draft),
    "" (none: "" or "none") or a name."""
    if name is None:
        return None
    return "" if name.strip().lower() in ("", "none") else name.strip()


def chat_request(
    req: Any, messages: tuple[ChatMessage, ...], rename: Mapping[str, str] | None = None, **fields: Any
) -> ParsedRequest:
    """A chat request from a validated body, with the fields every chat API reads alike (model,
    stream, draft model, the settings, seed, ttl); an API's own ones come as `fields`."""
    return ParsedRequest(
        chat=True,
        model=req.model,
        stream=bool(req.stream),
        draft_model=requested_draft(req.draft_model),
        overrides=settings_overrides(req, rename),
        seed=req.seed,
        messages=messages,
        ttl=req.ttl,
        **fields,
    )


def _text(content: str | list[ContentPart] | None, where: str, joiner: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for i, part in enumerate(content):
        at = f"{where}[{i}]"
        if part.type == "text":
            if part.text is None:
                raise bad_request(f"{at}.text is required in a text part", "invalid_value", param=at)
            texts.append(part.text)
        elif part.type in IMAGE_PARTS:
            raise bad_request(
                f"{at} is an image ({part.type}): the models on this server read text only",
                "unsupported_content",
                param=at,
            )
        elif part.type in OTHER_MEDIA:
            raise bad_request(
                f"{at} is a {part.type} part: the models on this server read text only",
                "unsupported_content",
                param=at,
            )
        else:
            raise bad_request(f"{at} has an unknown part type {part.type!r}", "invalid_value", param=at)
    return joiner.join(texts)


def _message(m: TextMessage | AssistantInput, i: int) -> ChatMessage:
    where = f"messages[{i}].content"
    try:
        return ChatMessage.of(m.role, _text(m.content, where, PART_JOINER))
    except InvalidRequestError as exc:
        raise bad_request(str(exc), "invalid_messages", param=f"messages[{i}].role") from None


def parse_request(body: dict[str, Any], chat: bool) -> ParsedRequest:
    """A validated request, or ApiError (400) naming the field at fault."""
    refuse_unsupported(body, UNSUPPORTED)
    model_cls = ChatCompletionRequest if chat else CompletionRequest
    try:
        req: Any = model_cls.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None
    overrides = settings_overrides(req)
    if chat and req.max_completion_tokens is not None:  # both are limits: the smaller holds both
        overrides["max_tokens"] = min(req.max_completion_tokens, req.max_tokens or req.max_completion_tokens)
    draft = requested_draft(req.draft_model)
    stop_raw = req.stop
    stops = [stop_raw] if isinstance(stop_raw, str) else (stop_raw or [])
    parsed = ParsedRequest(
        chat=chat,
        model=req.model,
        stream=bool(req.stream),
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        draft_model=draft,
        overrides=overrides,
        seed=req.seed,
        stop=tuple(s for s in stops if s),
        ttl=req.ttl,
    )
    if req.prediction is not None:
        parsed.prediction = _text(req.prediction.content, "prediction.content", "") or None
    if chat:
        parsed.messages = tuple(_message(m, i) for i, m in enumerate(req.messages))
    elif isinstance(req.prompt, list):  # the schema allows one
        parsed.prompt = req.prompt[0]
    else:
        parsed.prompt = req.prompt
    return parsed

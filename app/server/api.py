"""Request bodies in, response bodies out: the OpenAI-compatible and REST (v0) shapes.

Validation happens here, before any model is touched, and every failure is an ApiError
carrying the HTTP status and an OpenAI-style error body.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.core.events import GenerationStats, StopReason
from app.core.request import ChatMessage, GenerationRequest
from app.library.entry import ModelEntry

STATS_FIELDS = (
    "tokens_per_second",
    "time_to_first_token",
    "generation_time",
    "stop_reason",
    "draft_model",
    "total_draft_tokens_count",
    "accepted_draft_tokens_count",
    "rejected_draft_tokens_count",
    "ignored_draft_tokens_count",
)


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.kind = status, message, code, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "code": self.code}}


@dataclass
class ParsedRequest:
    chat: bool
    model: str
    draft_model: str | None  # None: the model's default draft
    no_draft: bool
    stream: bool
    overrides: dict[str, Any]
    seed: int | None
    stop: tuple[str, ...]
    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None

    def generation_request(self, values: dict[str, Any], engine: str = "llama.cpp") -> GenerationRequest:
        return GenerationRequest(
            messages=self.messages,
            prompt=self.prompt,
            max_tokens=int(values["max_tokens"]),
            sampling=model_settings.sampling_from(values, seed=self.seed),
            draft=model_settings.draft_from(values, engine),
            stop=self.stop,
        )


def _bad(message: str, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code)


def parse_body(body: Any, chat: bool) -> ParsedRequest:
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required and must be a string", "missing_model")
    overrides: dict[str, Any] = {}
    for field, spec in model_settings.api_specs().items():  # the settings declare their fields
        if body.get(field) is not None:
            try:
                overrides[spec.name] = spec.coerce(body[field], field)
            except InvalidRequestError as exc:
                raise _bad(str(exc), "invalid_value") from None
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad("seed must be an integer", "invalid_value")
    stop_raw = body.get("stop")
    if stop_raw is None:
        stop: tuple[str, ...] = ()
    elif isinstance(stop_raw, str):
        stop = (stop_raw,) if stop_raw else ()
    elif isinstance(stop_raw, list) and all(isinstance(s, str) for s in stop_raw):
        stop = tuple(s for s in stop_raw if s)
    else:
        raise _bad("stop must be a string or a list of strings", "invalid_value")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("stream must be true or false", "invalid_value")
    draft = body.get("draft_model")
    if draft is not None and not isinstance(draft, str):
        raise _bad("draft_model must be a string", "invalid_value")
    no_draft = draft is not None and draft.strip().lower() in ("", "none")
    parsed = ParsedRequest(chat, model, None if no_draft else draft, no_draft, stream, overrides, seed, stop)
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("'messages' must be a non-empty list", "invalid_messages")
        out = []
        for m in messages:
            if not (
                isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str)
            ):
                raise _bad("each message needs a string 'role' and a string 'content'", "invalid_messages")
            try:
                out.append(ChatMessage.of(m["role"], m["content"]))
            except InvalidRequestError as exc:
                raise _bad(str(exc), "invalid_messages") from None
        parsed.messages = tuple(out)
    else:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise _bad("'prompt' is required and must be a string", "invalid_prompt")
        parsed.prompt = prompt
    return parsed


def finish_reason(stats: GenerationStats) -> str:
    return "length" if stats.stop_reason is StopReason.MAX_TOKENS else "stop"


def stats_body(stats: GenerationStats) -> dict[str, Any]:
    full = stats.to_dict()
    return {k: full[k] for k in STATS_FIELDS}


def completion_body(
    p: ParsedRequest, model: str, text: str, stats: GenerationStats, rest: bool
) -> dict[str, Any]:
    ident = ("chatcmpl-" if p.chat else "cmpl-") + uuid.uuid4().hex[:24]
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish_reason(stats), "logprobs": None}
    if p.chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    body: dict[str, Any] = {
        "id": ident,
        "object": "chat.completion" if p.chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": {
            "prompt_tokens": stats.prompt_tokens_count,
            "completion_tokens": stats.predicted_tokens_count,
            "total_tokens": stats.prompt_tokens_count + stats.predicted_tokens_count,
        },
    }
    if rest:
        body["stats"] = stats_body(stats)
    return body


def chunk_body(
    p: ParsedRequest, ident: str, model: str, piece: str, draft: bool, finish: str | None = None
) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
    if p.chat:
        choice["delta"] = {"content": piece} if finish is None else {}
    else:
        choice["text"] = piece
    if draft:
        choice["draft"] = True
    return {
        "id": ident,
        "object": "chat.completion.chunk" if p.chat else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }


def openai_model(entry: ModelEntry) -> dict[str, Any]:
    return {"id": entry.key, "object": "model", "owned_by": entry.key.split("/", 1)[0]}


def rest_model(entry: ModelEntry, loaded: bool) -> dict[str, Any]:
    return {
        "id": entry.key,
        "object": "model",
        "type": "llm",
        "publisher": entry.key.split("/", 1)[0],
        "arch": entry.architecture,
        "compatibility_type": "gguf" if entry.engine == "llama.cpp" else "mlx",
        "engine": entry.engine,
        "quantization": entry.quantization,
        "parameters": entry.parameter_count,
        "state": "loaded" if loaded else "not-loaded",
        "max_context_length": entry.context_length,
    }

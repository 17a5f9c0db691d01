"""The server's OpenAPI description (served at /openapi.json), generated from the schema's
models, which are generated from the settings declarations: nothing here restates a field.
Every API is described in its own shapes: its request, reply, stream events and errors."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app import __version__
from app.server.anthropic_messages import schema as anthropic
from app.server.lmstudio_rest import schema as lmstudio
from app.server.openai_responses import schema as responses
from app.server.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
    DraftList,
    ErrorBody,
    ModelCard,
    ModelList,
    RestModel,
    RestModelList,
)

REF = "#/components/schemas/{model}"
ERRORS = {
    "400": "invalid request (bad JSON, a value out of range, an incompatible draft, a prompt too long)",
    "401": "missing or wrong API key",
    "403": "Host or Origin not allowed (see the README's localhost safety)",
    "404": "unknown model or endpoint",
    "408": "the request body did not arrive in time",
    "413": "request body over 1 MB",
    "405": "this method is not allowed here",
    "409": "the model is loaded by the app for its chat",
    "415": "the body is not sent as application/json",
    "501": "not something this server does",
    "503": "too many requests waiting for this model; retry shortly",
}
POST_ERRORS = ("400", "401", "403", "404", "408", "413", "415", "503")


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _errors(codes: tuple[str, ...], shape: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {
        code: {"description": ERRORS[code], "content": {"application/json": {"schema": _ref(shape)}}}
        for code in codes
    }


def _post(
    request: type[BaseModel],
    reply: type[BaseModel],
    events: type[BaseModel] | tuple[type[BaseModel], ...] | None,
    summary: str,
    shape: type[BaseModel] = ErrorBody,
    stream: str = "one chunk per token, then `data: [DONE]`",
    codes: tuple[str, ...] = POST_ERRORS,
) -> Any:
    content: dict[str, Any] = {"application/json": {"schema": _ref(reply)}}
    described = "the reply"
    if events is not None:
        many = isinstance(events, tuple)
        one_of = {"oneOf": [_ref(e) for e in events]} if isinstance(events, tuple) else _ref(events)
        content["text/event-stream"] = {"schema": one_of}
        described += f", or with stream: true server-sent events ({stream})"
        if many:
            described += "; each event's `event:` line is its `type`"
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
            "responses": {"200": {"description": described, "content": content}, **_errors(codes, shape)},
        }
    }


def _get(
    reply: type[BaseModel], summary: str, not_found: bool = False, shape: type[BaseModel] = ErrorBody
) -> Any:
    codes = ("401", "403", "404") if not_found else ("401", "403")
    return {
        "get": {
            "summary": summary,
            "responses": {
                "200": {"description": summary, "content": {"application/json": {"schema": _ref(reply)}}},
                **_errors(codes, shape),
            },
        }
    }


def _not_implemented(method: str, summary: str, shape: type[BaseModel]) -> Any:
    return {method: {"summary": summary, "responses": _errors(("501",), shape)}}


def _other_apis() -> dict[str, Any]:
    """OpenAI Responses, Anthropic Messages and LM Studio's REST v1, each in its own shapes."""
    a_error, v1_error = anthropic.AnthropicError, lmstudio.RestError
    reply_id = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/responses": _post(
            responses.ResponsesRequest,
            responses.ResponseObject,
            responses.STREAM_EVENTS,
            "a reply (OpenAI Responses), with speculative stats",
            stream="OpenAI's events, numbered by sequence_number",
        ),
        "/v1/responses/{response_id}": {
            "parameters": [reply_id],
            **_get(responses.ResponseObject, "a reply this server keeps", not_found=True),
        },
        "/v1/messages": _post(
            anthropic.MessagesRequest,
            anthropic.MessageObject,
            anthropic.STREAM_EVENTS,
            "a message (Anthropic Messages), with speculative stats",
            a_error,
            stream="Anthropic's events, message_start to message_stop",
        ),
        "/v1/messages/count_tokens": _post(
            anthropic.CountTokensRequest,
            anthropic.TokenCount,
            None,
            "the tokens a conversation reads",
            a_error,
        ),
        "/api/v1/chat": _post(
            lmstudio.ChatRequest,
            lmstudio.ChatResult,
            lmstudio.STREAM_EVENTS,
            "a chat (LM Studio REST v1), with speculative stats",
            v1_error,
            stream="LM Studio's events, chat.start to chat.end",
        ),
        "/api/v1/models": _get(
            lmstudio.RestV1ModelList, "the models, with their loaded instances", shape=v1_error
        ),
        "/api/v1/models/load": _post(
            lmstudio.LoadRequest,
            lmstudio.LoadResult,
            None,
            "load a model (it stays until unloaded)",
            v1_error,
        ),
        "/api/v1/models/unload": _post(
            lmstudio.UnloadRequest,
            lmstudio.UnloadResult,
            None,
            "unload a model",
            v1_error,
            codes=("400", "401", "403", "404", "409", "415"),
        ),
        "/api/v1/models/download": _not_implemented("post", "downloads: not done by this server", v1_error),
        "/api/v1/models/download/status": _not_implemented(
            "get", "downloads: not done by this server", v1_error
        ),
    }


def openapi_schema() -> dict[str, Any]:
    return copy.deepcopy(_schema())


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        ChatCompletionRequest,
        CompletionRequest,
        ChatCompletion,
        ChatCompletionChunk,
        Completion,
        ModelList,
        ModelCard,
        RestModelList,
        RestModel,
        DraftList,
        ErrorBody,
        responses.ResponsesRequest,
        responses.ResponseObject,
        *responses.STREAM_EVENTS,
        anthropic.MessagesRequest,
        anthropic.CountTokensRequest,
        anthropic.MessageObject,
        anthropic.TokenCount,
        *anthropic.STREAM_EVENTS,
        lmstudio.ChatRequest,
        lmstudio.ChatResult,
        *lmstudio.STREAM_EVENTS,
        lmstudio.RestError,
        lmstudio.RestV1ModelList,
        lmstudio.LoadRequest,
        lmstudio.LoadResult,
        lmstudio.UnloadRequest,
        lmstudio.UnloadResult,
    ]
    _, top = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    model_param = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    one_model = {"parameters": [model_param]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Specula local server", "version": __version__},
        "paths": {
            "/v1/models": _get(ModelList, "the models in the library (OpenAI-compatible)"),
            "/v1/models/{model}": {**one_model, **_get(ModelCard, "one model", not_found=True)},
            "/api/v0/models": _get(RestModelList, "the models, with engine, architecture and state"),
            "/api/v0/models/{model}": {**one_model, **_get(RestModel, "one model", not_found=True)},
            "/api/v0/drafts/{model}": {
                **one_model,
                **_get(DraftList, "the drafts the library has for a model", not_found=True),
            },
            "/v1/chat/completions": _post(
                ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, "chat completion (OpenAI)"
            ),
            "/v1/completions": _post(CompletionRequest, Completion, Completion, "text completion (OpenAI)"),
            "/api/v0/chat/completions": _post(
                ChatCompletionRequest, ChatCompletion, ChatCompletionChunk, "chat completion with stats"
            ),
            "/api/v0/completions": _post(
                CompletionRequest, Completion, Completion, "text completion with speculative stats"
            ),
            **_other_apis(),
        },
        "components": {"schemas": top.get("$defs", {})},
    }


def request_schema(path: str) -> dict[str, Any]:
    """The request body schema of a POST route, with its references resolved one level."""
    doc = openapi_schema()
    ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return dict(doc["components"]["schemas"][ref.rsplit("/", 1)[1]])

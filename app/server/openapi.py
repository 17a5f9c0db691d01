"""The server's OpenAPI description (served at /openapi.json), generated from the schema's
models, which are generated from the settings declarations: nothing here restates a field."""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app import __version__
from app.server.schema import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Completion,
    CompletionRequest,
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
    "415": "the body is not sent as application/json",
    "503": "too many requests waiting for this model; retry shortly",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        code: {"description": ERRORS[code], "content": {"application/json": {"schema": _ref(ErrorBody)}}}
        for code in codes
    }


def _post(request: type[BaseModel], reply: type[BaseModel], chunk: type[BaseModel], summary: str) -> Any:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(request)}}},
            "responses": {
                "200": {
                    "description": "the reply, or with stream: true server-sent events (one chunk per "
                    "token, then `data: [DONE]`)",
                    "content": {
                        "application/json": {"schema": _ref(reply)},
                        "text/event-stream": {"schema": _ref(chunk)},
                    },
                },
                **_errors(("400", "401", "403", "404", "408", "413", "415", "503")),
            },
        }
    }


def _get(reply: type[BaseModel], summary: str, not_found: bool = False) -> Any:
    codes = ("401", "403", "404") if not_found else ("401", "403")
    return {
        "get": {
            "summary": summary,
            "responses": {
                "200": {"description": summary, "content": {"application/json": {"schema": _ref(reply)}}},
                **_errors(codes),
            },
        }
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
        ErrorBody,
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
        },
        "components": {"schemas": top.get("$defs", {})},
    }


def request_schema(path: str) -> dict[str, Any]:
    """The request body schema of a POST route, with its references resolved one level."""
    doc = openapi_schema()
    ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return dict(doc["components"]["schemas"][ref.rsplit("/", 1)[1]])

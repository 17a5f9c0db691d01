"""The server's OpenAPI description (served at /openapi.json; the fuzz test reads it)."""

from __future__ import annotations

from typing import Any

_NUMBER_FIELDS = {
    "temperature": {"type": "number", "minimum": 0},
    "top_p": {"type": "number", "minimum": 0.01, "maximum": 1},
    "top_k": {"type": "integer", "minimum": 0},
    "min_p": {"type": "number", "minimum": 0, "maximum": 1},
    "repeat_penalty": {"type": "number"},
    "max_tokens": {"type": "integer", "minimum": 1},
    "seed": {"type": "integer"},
    "draft_max": {"type": "integer", "minimum": 1},
    "draft_min": {"type": "integer", "minimum": 0},
    "draft_p_min": {"type": "number", "minimum": 0, "maximum": 1},
}
_COMMON = {
    "model": {"type": "string"},
    "draft_model": {
        "type": "string",
        "description": "draft model key; empty for none; omitted: the model's default",
    },
    "stream": {"type": "boolean"},
    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    **_NUMBER_FIELDS,
}
_CHAT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        **_COMMON,
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": ["system", "user", "assistant"]},
                    "content": {"type": "string"},
                },
            },
        },
    },
}
_COMPLETION = {
    "type": "object",
    "required": ["model", "prompt"],
    "properties": {**_COMMON, "prompt": {"type": "string"}},
}
_ERROR = {
    "description": "an OpenAI-style error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                            "code": {"type": "string"},
                        },
                    }
                },
            }
        }
    },
}


def _post(schema: dict[str, Any], summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "200": {"description": "the completion (or server-sent events when stream is true)"},
                "400": _ERROR,
                "404": _ERROR,
                "413": _ERROR,
                "503": _ERROR,
            },
        }
    }


def openapi_schema() -> dict[str, Any]:
    models = {"get": {"summary": "list models", "responses": {"200": {"description": "models"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Specula local server", "version": "1"},
        "paths": {
            "/v1/models": models,
            "/api/v0/models": models,
            "/v1/chat/completions": _post(_CHAT, "chat completion (OpenAI-compatible)"),
            "/v1/completions": _post(_COMPLETION, "text completion (OpenAI-compatible)"),
            "/api/v0/chat/completions": _post(_CHAT, "chat completion with speculative stats"),
            "/api/v0/completions": _post(_COMPLETION, "text completion with speculative stats"),
        },
    }

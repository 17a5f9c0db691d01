"""The server's OpenAPI description (served at /openapi.json; the fuzz test reads it)."""

from __future__ import annotations

from typing import Any

from app.core import model_settings

_COMMON = {
    **model_settings.openapi_properties(),  # the per-request settings, with their ranges
    "model": {"type": "string"},
    "draft_model": {
        "type": "string",
        "description": "draft model key, or 'prompt-lookup'; empty for none; omitted: the model's default",
    },
    "stream": {"type": "boolean"},
    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
    "seed": {"type": "integer"},
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

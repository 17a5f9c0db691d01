"""Errors as the HTTP API answers them: an HTTP status and a JSON body in the shape of the
API the path belongs to.

Every failure a client can cause is a 4xx; validation errors are worded like the settings'
own checks ("temperature must be <= 5"), naming the field at fault. The body is OpenAI's
`{"error": {"message", "type", "code", "param"}}` (Chat Completions, Completions, Responses,
/api/v0), Anthropic's `{"type": "error", "error": {"type", "message"}}` under /v1/messages,
and LM Studio's `{"error": {"type", "message", "code", "param"}}` under /api/v1 (its types:
invalid_request, model_not_found, not_implemented, internal_error). A server error that a
retry cannot mend says `x-should-retry: false`, which the official SDKs obey (they retry
every 5xx otherwise, for minutes with Anthropic's defaults).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import ValidationError

from app.library.resolve import UnknownModelError

KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    414: "invalid_request_error",
    415: "invalid_request_error",
    431: "invalid_request_error",
    503: "server_error",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.headers = dict(headers or {})
        self.close = close  # the request was not read to its end: the connection cannot be reused

    @property
    def kind(self) -> str:
        return KINDS.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")

    @property
    def retryable(self) -> bool:
        """Whether trying again can help: a busy or stopping server (503), a slow client."""
        return self.status in (408, 429, 503)

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.status >= 500 and not self.retryable:
            headers.setdefault("x-should-retry", "false")
        return headers

    def body(self, path: str = "") -> dict[str, Any]:
        """The body in the shape of the API `path` belongs to (OpenAI's by default)."""
        if path == ANTHROPIC_PATH or path.startswith(ANTHROPIC_PATH + "/"):
            return anthropic_error_body(self)
        if path.startswith(LMSTUDIO_PATH):
            return lmstudio_error_body(self)
        return error_body(self.message, self.kind, self.code, self.param)

    def json_bytes(self, path: str = "") -> bytes:
        return json.dumps(self.body(path), ensure_ascii=False).encode("utf-8")


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code, "param": param}}


def model_not_found(exc: UnknownModelError) -> ApiError:
    """A model no one has: the resolver's words, pointing at the list of models."""
    param = "draft_model" if exc.is_draft else "model"
    return ApiError(404, exc.hinted("see GET /v1/models"), "model_not_found", param=param)


# --- the other APIs' shapes -----------------------------------------------------------------------
ANTHROPIC_PATH = "/v1/messages"
LMSTUDIO_PATH = "/api/v1/"
ANTHROPIC_KINDS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


def anthropic_error_body(err: ApiError) -> dict[str, Any]:
    kind = ANTHROPIC_KINDS.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": err.message}}


def lmstudio_error_body(err: ApiError) -> dict[str, Any]:
    if err.code == "model_not_found":
        kind = "model_not_found"
    elif err.status == 501:
        kind = "not_implemented"
    else:
        kind = "internal_error" if err.status >= 500 else "invalid_request"
    return {"error": {"type": kind, "message": err.message, "code": err.code, "param": err.param}}


def bad_request(message: str, code: str = "invalid_request", param: str | None = None) -> ApiError:
    return ApiError(400, message, code, param=param)


# --- pydantic's errors in our words -------------------------------------------------------------
_TYPE_TAG = re.compile(r"^[a-z_][a-z0-9_]*$")
_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}


def where(loc: tuple[int | str, ...]) -> str:
    """("messages", 0, "content") -> "messages[0].content"; union branch tags are dropped."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _TYPE_TAG.match(part) and part not in _TYPE_NAMES:
            out += f".{part}" if out else part
    return out or "body"


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _words(err: Any) -> str:
    kind, ctx, given = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "int_type" and isinstance(given, float):
        return "must be a finite number" if not math.isfinite(given) else "must be a whole number"
    fixed = {
        "finite_number": "must be a finite number",
        "int_type": "must be a whole number",
        "float_type": "must be a number",
        "bool_type": "must be true or false",
        "string_type": "must be text",
        "missing": "is required",
        "list_type": "must be a list",
        "model_type": "must be an object",
        "model_attributes_type": "must be an object",
        "dict_type": "must be an object",
        "none_required": "must be null",
    }
    if kind in fixed:
        return fixed[kind]
    if kind in ("less_than_equal", "less_than"):
        return f"must be {'<=' if kind == 'less_than_equal' else '<'} {_num(ctx.get('le', ctx.get('lt')))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be {'>=' if kind == 'greater_than_equal' else '>'} {_num(ctx.get('ge', ctx.get('gt')))}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind in ("too_long", "string_too_long"):
        most = ctx.get("max_length")
        unit = " characters" if kind == "string_too_long" else " item" if most == 1 else " items"
        return f"is too long (at most {most}{unit})"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return str(err["msg"])


def from_validation(exc: ValidationError) -> ApiError:
    """The most specific of pydantic's errors (the deepest field) as one 400."""
    errors = exc.errors(include_url=False)
    # A union's branches each report: the one whose type matched says what is wrong.
    err = max(errors, key=lambda e: (len(e["loc"]), not e["type"].endswith("_type")))
    field = where(tuple(err["loc"]))
    return bad_request(f"{field} {_words(err)}", "invalid_value", param=field)

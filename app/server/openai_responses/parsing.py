"""A Responses request body in our terms, or a 400 naming what is wrong or not supported.

Input is a string (one user message) or message items whose content is text or text parts;
`instructions` is a system message first; `previous_response_id` puts the conversation a
kept reply ended before the input. What would change the reply in ways this server cannot
honour (tools, reasoning effort, structured output, images, files, tool-call items,
truncation, background runs...) is refused by name, before any model is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.core.request import ChatMessage
from app.server.errors import ApiError, bad_request, from_validation
from app.server.openai_responses.schema import RENAMED, ResponsesInputMessage, ResponsesRequest
from app.server.request_parsing import (
    PART_JOINER,
    ParsedRequest,
    chat_request,
    empty,
    refuse_unsupported,
)
from app.server.response_store import CAPACITY, ResponseStore, StoredReply

TEXT_PARTS = ("input_text", "output_text")
MEDIA = {"input_image": "an image", "input_file": "a file", "input_audio": "audio"}


def _plain_text(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, dict):
        return False
    fmt = value.get("format")
    plain = fmt is None or (isinstance(fmt, dict) and fmt.get("type") == "text")
    return plain and value.get("verbosity") in (None, "medium")


UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "tools": (empty, "tools (functions, MCP, web search, ...) are not supported by this server"),
    "tool_choice": (lambda v: v in (None, "none", "auto"), "tool calling is not supported by this server"),
    "include": (empty, "include is not supported: replies here carry text only"),
    "top_logprobs": (empty, "log probabilities are not supported by this server"),
    "background": (empty, "background responses are not supported: a reply is returned or streamed at once"),
    "conversation": (
        empty,
        "conversations are not kept by this server: use previous_response_id (replies are kept in memory)",
    ),
    "prompt": (empty, "reusable prompt templates are not supported by this server"),
    "reasoning": (
        lambda v: v is None or (isinstance(v, dict) and v.get("effort") in (None, "none")),
        "reasoning effort is not supported: the models on this server do not reason on request",
    ),
    "text": (_plain_text, "only plain text replies are supported (text.format type 'text', no verbosity)"),
    "truncation": (
        lambda v: v in (None, "disabled"),
        "truncation 'auto' is not supported: a conversation longer than the context is refused, never cut",
    ),
    "context_management": (empty, "context management (compaction) is not supported by this server"),
}


@dataclass
class ResponsesCall:
    """A parsed request and what its reply echoes and keeps."""

    parsed: ParsedRequest
    request: Any  # the validated ResponsesRequest
    history: tuple[ChatMessage, ...]  # the conversation before the reply (instructions apart)


def _refuse_items(items: Any) -> None:
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue  # validation names it
        kind, where = item.get("type", "message"), f"input[{i}]"
        if kind == "reasoning":
            why = "reasoning items are not supported: the models on this server do not reason on request"
        elif kind == "item_reference":
            why = "item references are not supported: send the message itself, or use previous_response_id"
        elif isinstance(kind, str) and (kind.endswith(("_call", "_call_output")) or kind.startswith("mcp_")):
            why = f"tool calls ({kind}) are not supported by this server"
        elif kind != "message":
            why = f"{kind!r} items are not supported: only messages are"
        else:
            _refuse_parts(item.get("content"), where)
            continue
        raise bad_request(f"{where}: {why}", "unsupported_parameter", param=where)


def _refuse_parts(content: Any, where: str) -> None:
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        at = f"{where}.content[{j}]"
        if kind in MEDIA:
            raise bad_request(
                f"{at} is {MEDIA[kind]} ({kind}): the models on this server read text only",
                "unsupported_content",
                param=at,
            )
        if isinstance(kind, str) and kind not in TEXT_PARTS:
            raise bad_request(
                f"{at} has a part type this server does not read: {kind!r}", "invalid_value", param=at
            )


def _message(m: ResponsesInputMessage) -> ChatMessage:
    text = m.content if isinstance(m.content, str) else PART_JOINER.join(p.text for p in m.content)
    return ChatMessage.of(m.role, text)


def previous_conversation(store: ResponseStore, reply_id: str | None) -> tuple[ChatMessage, ...]:
    if reply_id is None:
        return ()
    kept = store.get(reply_id)
    if kept is None:
        raise ApiError(
            404,
            f"previous response {reply_id!r} not found: this server keeps its last {CAPACITY} replies "
            "in memory while it runs (stored with store: true); resend the conversation as input",
            "previous_response_not_found",
            param="previous_response_id",
        )
    return kept.messages


def parse_responses(body: dict[str, Any], store: ResponseStore) -> ResponsesCall:
    refuse_unsupported(body, UNSUPPORTED)
    _refuse_items(body.get("input"))
    try:
        req: Any = ResponsesRequest.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None
    given = (
        (ChatMessage.of("user", req.input),)
        if isinstance(req.input, str)
        else tuple(map(_message, req.input))
    )
    history = previous_conversation(store, req.previous_response_id) + given
    system = (ChatMessage.of("system", req.instructions),) if req.instructions else ()
    return ResponsesCall(chat_request(req, system + history, RENAMED), req, history)


def kept_reply(call: ResponsesCall, reply_id: str, text: str, body: dict[str, Any]) -> StoredReply:
    return StoredReply(
        reply_id, (*call.history, ChatMessage.of("assistant", text)), call.request.instructions, body
    )

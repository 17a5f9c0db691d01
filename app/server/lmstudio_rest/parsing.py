"""An /api/v1/chat body in our terms, or a 400 naming what is wrong or not supported.

`input` is the user's message (text, or text parts joined with a new line); `system_prompt`
goes first; `previous_response_id` continues a chat this server keeps (its system prompt
too, unless the request gives one). Images, integrations (plugins, MCP servers), reasoning
other than "off" and a per-request context length are refused by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.core.request import ChatMessage
from app.server.errors import ApiError, bad_request, from_validation
from app.server.lmstudio_rest.schema import RENAMED, ChatRequest
from app.server.request_parsing import (
    PART_JOINER,
    ParsedRequest,
    chat_request,
    empty,
    refuse_unsupported,
)
from app.server.response_store import CAPACITY, ResponseStore

UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "integrations": (empty, "integrations (plugins, MCP servers) are not supported by this server"),
    "reasoning": (
        lambda v: v in (None, "off"),
        "reasoning is not supported: the models on this server do not reason on request",
    ),
    "context_length": (
        lambda v: v is None,
        "context_length is not taken per chat here: load the model with it (POST /api/v1/models/load)",
    ),
}


@dataclass
class ChatCall:
    parsed: ParsedRequest
    store: bool
    system: str | None  # the system prompt, kept with the chat
    history: tuple[ChatMessage, ...]  # the chat before the reply (system prompt apart)


def _refuse_parts(items: Any) -> None:
    if not isinstance(items, list):
        return
    for i, item in enumerate(items):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "image":
            raise bad_request(
                f"input[{i}] is an image: the models on this server read text only",
                "unsupported_content",
                param=f"input[{i}]",
            )


def parse_chat(body: dict[str, Any], store: ResponseStore) -> ChatCall:
    refuse_unsupported(body, UNSUPPORTED)
    _refuse_parts(body.get("input"))
    try:
        req: Any = ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None
    text = req.input if isinstance(req.input, str) else PART_JOINER.join(p.content for p in req.input)
    earlier: tuple[ChatMessage, ...] = ()
    system = req.system_prompt
    if req.previous_response_id is not None:
        kept = store.get(req.previous_response_id)
        if kept is None:
            raise ApiError(
                404,
                f"previous response {req.previous_response_id!r} not found: this server keeps its last "
                f"{CAPACITY} chats in memory while it runs; start the chat again",
                "previous_response_not_found",
                param="previous_response_id",
            )
        earlier = kept.messages
        system = system if system is not None else kept.system
    history = (*earlier, ChatMessage.of("user", text))
    head = (ChatMessage.of("system", system),) if system else ()
    parsed = chat_request(req, head + history, RENAMED)
    return ChatCall(parsed, req.store is not False, system, history)

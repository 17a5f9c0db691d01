"""An Anthropic Messages body in our terms, or a 400 naming what is wrong or not supported.

Content is text or text blocks (joined with a new line); `system` is a system message
first; consecutive turns of one role are one turn, as Anthropic combines them; a last
assistant turn is continued (prefill). Tools, tool_use and tool_result blocks, images and
documents, extended thinking, MCP servers and structured output are refused by name,
before any model is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from app.core.request import ChatMessage
from app.server.anthropic_messages.schema import CountTokensRequest, MessagesRequest, TextBlock
from app.server.errors import bad_request, from_validation
from app.server.request_parsing import (
    PART_JOINER,
    ParsedRequest,
    chat_request,
    empty,
    refuse_unsupported,
)

MEDIA = {"image": "an image", "document": "a document", "search_result": "a search result"}
THINKING = ("thinking", "redacted_thinking")

UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "tools": (empty, "tools are not supported by this server"),
    "tool_choice": (
        lambda v: v is None or (isinstance(v, dict) and v.get("type") in ("auto", "none")),
        "tool use is not supported by this server",
    ),
    "thinking": (
        lambda v: v is None or (isinstance(v, dict) and v.get("type") == "disabled"),
        "extended thinking is not supported: the models on this server do not think on request",
    ),
    "mcp_servers": (empty, "MCP servers are not supported by this server"),
    "container": (empty, "containers (code execution, skills) are not supported by this server"),
    "context_management": (empty, "context management is not supported by this server"),
    "output_format": (empty, "structured output is not supported: replies are plain text"),
    "output_config": (empty, "output_config (structured output, effort) is not supported by this server"),
}


@dataclass
class MessagesCall:
    parsed: ParsedRequest
    stop_sequences: tuple[str, ...]


def _refuse_blocks(content: Any, where: str) -> None:
    if not isinstance(content, list):
        return
    for j, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        at = f"{where}[{j}]"
        if kind in MEDIA:
            raise bad_request(
                f"{at} is {MEDIA[kind]} block: the models on this server read text only",
                "unsupported_content",
                param=at,
            )
        if kind in THINKING:
            raise bad_request(
                f"{at} is a {kind} block: extended thinking is not supported", "unsupported_content", param=at
            )
        if isinstance(kind, str) and "tool" in kind:
            raise bad_request(
                f"{at} is a {kind} block: tool use is not supported by this server",
                "unsupported_content",
                param=at,
            )
        if isinstance(kind, str) and kind != "text":
            raise bad_request(
                f"{at} has a block type this server does not read: {kind!r}", "invalid_value", param=at
            )


def _refuse(body: dict[str, Any]) -> None:
    refuse_unsupported(body, UNSUPPORTED)
    messages = body.get("messages")
    if isinstance(messages, list):
        for i, m in enumerate(messages):
            if isinstance(m, dict):
                _refuse_blocks(m.get("content"), f"messages[{i}].content")
    _refuse_blocks(body.get("system"), "system")


def _text(content: str | list[TextBlock]) -> str:
    return content if isinstance(content, str) else PART_JOINER.join(b.text for b in content)


def conversation(req: Any) -> tuple[ChatMessage, ...]:
    """System first, then the turns, consecutive ones of one role combined."""
    turns: list[tuple[str, str]] = []
    for m in req.messages:
        text = _text(m.content)
        if turns and turns[-1][0] == m.role:
            turns[-1] = (m.role, turns[-1][1] + PART_JOINER + text)
        else:
            turns.append((m.role, text))
    system = _text(req.system) if req.system is not None else ""
    head = (ChatMessage.of("system", system),) if system else ()
    return head + tuple(ChatMessage.of(role, text) for role, text in turns)


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    _refuse(body)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None


def parse_messages(body: dict[str, Any]) -> MessagesCall:
    req = _validated(MessagesRequest, body)
    stops = tuple(s for s in (req.stop_sequences or []) if s)
    # message_start says the input tokens before the first token: counted first when streamed
    parsed = chat_request(req, conversation(req), stop=stops, count_prompt=bool(req.stream))
    return MessagesCall(parsed, stops)


def parse_count(body: dict[str, Any]) -> ParsedRequest:
    req = _validated(CountTokensRequest, body)
    return ParsedRequest(chat=True, model=req.model, draft_model="", messages=conversation(req), ttl=req.ttl)

"""The SDK's chat history (`{messages: [{role, content: [parts]}]}`) in our terms: chat
messages for the model's template, or, for complete(), the prompt text as it is. Text parts
of one message are joined with a new line (as the HTTP API joins them); files, images and
tool calls are refused by name: the models served here read text and call no tools."""

from __future__ import annotations

from typing import Any

from app.core.errors import InvalidRequestError
from app.core.request import ChatMessage
from app.server.lmstudio_sdk.wire import SdkError
from app.server.request_parsing import PART_JOINER

ROLES = ("system", "user", "assistant")


def _messages(history: Any) -> list[Any]:
    messages = history.get("messages") if isinstance(history, dict) else None
    if not isinstance(messages, list):
        raise SdkError("history must be an object with a list of messages")
    return messages


def _text(message: Any, where: str) -> tuple[str, str]:
    """(role, text) of one message."""
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise SdkError(f"{where} must have a role and a list of content parts")
    role = message.get("role")
    if role == "tool":
        raise SdkError(f"{where} is a tool result: tool calling is not supported by this server")
    if role not in ROLES:
        raise SdkError(f"{where}.role must be one of {', '.join(ROLES)}")
    texts: list[str] = []
    for j, part in enumerate(message["content"]):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "file":
            raise SdkError(f"{at} is a file: the models on this server read text only")
        elif kind == "toolCallRequest":
            raise SdkError(f"{at} is a tool call: tool calling is not supported by this server")
        else:
            raise SdkError(f"{at} must be a text part ({{type: 'text', text}})")
    return role, PART_JOINER.join(texts)


def chat_messages(history: Any) -> tuple[ChatMessage, ...]:
    out: list[ChatMessage] = []
    for i, message in enumerate(_messages(history)):
        role, text = _text(message, f"history.messages[{i}]")
        try:
            out.append(ChatMessage.of(role, text))
        except InvalidRequestError as exc:
            raise SdkError(str(exc)) from None
    if not out:
        raise SdkError("history has no messages")
    return tuple(out)


def raw_prompt(history: Any) -> str:
    """complete(): the messages' text one after another, as the SDK's no-formatting template
    renders them."""
    return "".join(_text(m, f"history.messages[{i}]")[1] for i, m in enumerate(_messages(history)))

"""Reading a request body: bounded in size and time, then decoded as JSON defensively.

A body over the limit is refused from its Content-Length before a byte is read; a client
that sends less than it announced (and waits), or trickles, is answered 408 once it has been
silent for the body timeout, instead of holding its connection forever. JSON that is not
UTF-8, nested absurdly deep or carrying lone surrogates (which no model can tokenize) is a
400, never a crash later on.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from app.server.errors import ApiError, bad_request

MAX_BODY_BYTES = 1024 * 1024
BODY_DEADLINE = 60.0  # seconds for a whole body, however steadily it trickles in
MAX_DEPTH = 64
DRAIN_BYTES = 16 * 1024 * 1024  # read and dropped before a 413, so the client can read it ...
DRAIN_SECONDS = 2.0  # ... (closing on unread data resets the connection under the answer)
_SURROGATE = re.compile("[\ud800-\udfff]")

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientDisconnected(Exception):
    """The client went away before its request was read."""


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"request body over {limit} bytes", "body_too_large", close=True)


async def read_body(
    receive: Receive,
    content_length: str | None,
    limit: int = MAX_BODY_BYTES,
    timeout: float = 5.0,
    deadline: float = BODY_DEADLINE,
) -> bytes:
    """The whole body, within `limit` bytes; a client silent for `timeout` seconds midway
    (one that sent less than its Content-Length), or still sending after `deadline`
    seconds, gets a 408."""
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        await _discard(receive, int(content_length))
        raise too_large(limit)
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    chunks: list[bytes] = []
    size = 0
    while True:
        wait = min(timeout, end - loop.time())
        try:
            if wait <= 0:
                raise asyncio.TimeoutError
            message = await asyncio.wait_for(receive(), wait)
        except asyncio.TimeoutError:
            of = f"of {content_length} " if content_length else ""
            why = (
                f"nothing more for {timeout:g} s"
                if wait == timeout
                else f"still sending after {deadline:g} s"
            )
            raise ApiError(
                408,
                f"the request body stalled: {size} bytes {of}received, {why}",
                "request_timeout",
                close=True,
            ) from None
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        data = message.get("body", b"")
        size += len(data)
        if size > limit:
            if message.get("more_body", False):
                await _discard(receive, int(content_length) - size if content_length else DRAIN_BYTES)
            raise too_large(limit)
        chunks.append(data)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _discard(receive: Receive, announced: int) -> None:
    """Drop a refused body the client is still sending (a few MB, a second or two at most):
    most clients read the answer only once their body is out, and a socket closed with unread
    data answers them with a reset instead of the 413."""
    if announced > DRAIN_BYTES:
        return
    loop = asyncio.get_running_loop()
    end, left = loop.time() + DRAIN_SECONDS, announced
    while left > 0 and loop.time() < end:
        try:
            message = await asyncio.wait_for(receive(), end - loop.time())
        except asyncio.TimeoutError:
            return
        if message["type"] == "http.disconnect" or not message.get("more_body", False):
            return
        left -= len(message.get("body", b""))


def _check_tree(value: Any) -> None:
    """Depth and text checks without recursion (a hostile body must not exhaust the stack)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "body")]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            raise bad_request(f"the JSON body is nested deeper than {MAX_DEPTH} levels", "invalid_json")
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise bad_request(
                    f"{path} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text",
                    "invalid_value",
                    param=path,
                )
        elif isinstance(node, dict):
            for key, item in node.items():
                if _SURROGATE.search(key):
                    raise bad_request("a field name holds a lone UTF-16 surrogate", "invalid_value")
                stack.append((item, depth + 1, key if path == "body" else f"{path}.{key}"))
        elif isinstance(node, list):
            stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(node))


def decode_json(raw: bytes) -> Any:
    """The body as JSON (NaN and Infinity parse, and are refused as values later)."""
    if not raw.strip():
        raise bad_request("the request body is empty; send a JSON object", "invalid_json")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not UTF-8 (byte {exc.start})", "invalid_json") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise bad_request(f"the JSON body is nested deeper than {MAX_DEPTH} levels", "invalid_json") from None
    except ValueError as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}", "invalid_json") from None
    _check_tree(value)
    if not isinstance(value, dict):
        raise bad_request("the request body must be a JSON object", "invalid_json")
    return value

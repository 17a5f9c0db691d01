"""LM Studio's SDK against a real server: the `lmstudio` client pointed at its port, and a raw
websocket speaking the SDK's protocol for what the client never sends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from httpx_ws import WebSocketSession, connect_ws

from tests.server.conftest import Served


@pytest.fixture
def lms_client(server: Served) -> Iterator[Any]:
    import lmstudio as lms

    with lms.Client(f"127.0.0.1:{server.port}") as client:
        yield client


@contextmanager
def raw_socket(
    srv: Served, namespace: str = "llm", headers: dict[str, str] | None = None, passkey: str | None = "p"
) -> Iterator[WebSocketSession]:
    """A websocket on one namespace, authenticated with `passkey` (None: not yet)."""
    with (
        httpx.Client(headers=headers) as http,
        connect_ws(f"http://127.0.0.1:{srv.port}/{namespace}", http) as ws,
    ):
        if passkey is not None:
            ws.send_json({"authVersion": 1, "clientIdentifier": "test", "clientPasskey": passkey})
            assert ws.receive_json(timeout=10) == {"success": True}
        yield ws


def rpc(ws: WebSocketSession, endpoint: str, parameter: Any = None, call_id: int = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "rpcCall", "endpoint": endpoint, "callId": call_id}
    if parameter is not None:
        message["parameter"] = parameter
    ws.send_json(message)
    reply: dict[str, Any] = ws.receive_json(timeout=60)
    return reply


def query(key: str) -> dict[str, Any]:
    return {"type": "query", "query": {"identifier": key}}

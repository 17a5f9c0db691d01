"""One channel of an SDK connection: a conversation about one task (a prediction, a load)
that the client opens with `channelCreate`, talks to with `channelSend` (the SDK sends only
`{type: "cancel"}`), and the server ends with `channelClose` or `channelError`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from app.server.lmstudio_sdk.wire import SdkError

SendJson = Callable[[dict[str, Any]], Awaitable[None]]


class Channel:
    def __init__(self, send_json: SendJson, channel_id: int) -> None:
        self._send_json, self.id = send_json, channel_id
        self.cancelled = asyncio.Event()  # the client sent {type: "cancel"}

    def receive(self, message: Any) -> None:
        """A message from the client on this channel: the SDKs send only `cancel`."""
        if isinstance(message, dict) and message.get("type") == "cancel":
            self.cancelled.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self._send_json({"type": "channelSend", "channelId": self.id, "message": message})

    async def close(self) -> None:
        await self._send_json({"type": "channelClose", "channelId": self.id})

    async def fail(self, err: SdkError) -> None:
        await self._send_json({"type": "channelError", "channelId": self.id, "error": err.serialized()})

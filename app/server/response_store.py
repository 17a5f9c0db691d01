"""Recent replies kept so that a follow-up can name one (`previous_response_id`) instead of
resending the conversation: OpenAI's Responses and LM Studio's stateful /api/v1/chat.

Kept in memory for the server's life only, and bounded: the last `capacity` replies (each
one's whole conversation, whose messages are shared with the replies it continues), the
least recently used going first. A follow-up to a reply no longer kept is refused by name,
never answered as if the conversation had started afresh.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from app.core.request import ChatMessage

CAPACITY = 256  # replies kept per API


def new_response_id(prefix: str = "resp_") -> str:
    return prefix + secrets.token_hex(24)


@dataclass(frozen=True)
class StoredReply:
    id: str
    messages: tuple[ChatMessage, ...]  # the conversation, this reply last (instructions apart)
    system: str | None = None  # the instructions it was given
    body: dict[str, Any] = field(default_factory=dict)  # the reply as it was sent


class ResponseStore:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._replies: OrderedDict[str, StoredReply] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, reply: StoredReply) -> None:
        with self._lock:
            self._replies[reply.id] = reply
            self._replies.move_to_end(reply.id)
            while len(self._replies) > self.capacity:
                self._replies.popitem(last=False)

    def get(self, reply_id: str) -> StoredReply | None:
        with self._lock:
            reply = self._replies.get(reply_id)
            if reply is not None:
                self._replies.move_to_end(reply_id)
            return reply

    def delete(self, reply_id: str) -> bool:
        with self._lock:
            return self._replies.pop(reply_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._replies)

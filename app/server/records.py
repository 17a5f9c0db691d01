"""What the server reports as it works: one record per finished request, and notes (a model
unloaded after its idle TTL, the server started or stopped). The Local Server page shows
them as columns, `serve` prints them one a line (`str(record)`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from app.core.events import GenerationStats

LOG_KEY = "specula.log"  # the scope entry where routes leave what the record should say


@dataclass(frozen=True)
class RequestRecord:
    time: float  # when the request arrived (time.time())
    method: str
    path: str
    status: int
    client: str = ""
    model: str | None = None
    tokens: int | None = None  # tokens generated
    tokens_per_second: float | None = None
    acceptance: float | None = None  # accepted / (accepted + rejected) draft tokens
    draft: str | None = None  # what drafted (a model, prompt lookup, a prediction)
    duration: float = 0.0  # seconds, arrival to last byte
    error: str | None = None  # the error message, for 4xx/5xx

    def __str__(self) -> str:
        parts = [
            time.strftime("%H:%M:%S", time.localtime(self.time)),
            f"{self.method} {self.path}",
            str(self.status),
        ]
        if self.model:
            parts.append(self.model)
        if self.tokens is not None:
            parts.append(f"{self.tokens} tokens")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:.1f} tok/s")
        if self.acceptance is not None:
            parts.append(f"{self.acceptance:.0%} accepted")
        parts.append(f"{self.duration:.2f} s")
        if self.error:
            parts.append(self.error)
        return "  ".join(parts)


@dataclass(frozen=True)
class ServerNote:
    """Something the server did on its own: started, stopped, unloaded an idle model."""

    message: str
    time: float = field(default_factory=time.time)

    def __str__(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.time))}  {self.message}"


LogCallback = Callable[[RequestRecord | ServerNote], None]


@dataclass
class RequestInfo:
    """Filled in by the routes while a request runs."""

    model: str | None = None
    stats: GenerationStats | None = None
    error: str | None = None


class RequestLog:
    """ASGI middleware: times each request, notes its status, and reports a RequestRecord."""

    def __init__(self, app: Callable[..., Awaitable[None]], report: Callable[[RequestRecord], None]) -> None:
        self.app = app
        self.report = report

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived, t0 = time.time(), time.perf_counter()
        info = scope[LOG_KEY] = RequestInfo()
        status = 0
        reported = False

        def report() -> None:
            nonlocal reported
            if reported:
                return
            reported = True
            s = info.stats
            client = scope.get("client")
            self.report(
                RequestRecord(
                    time=arrived,
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    client=f"{client[0]}:{client[1]}" if client else "",
                    model=info.model,
                    tokens=s.predicted_tokens_count if s else None,
                    tokens_per_second=s.tokens_per_second if s else None,
                    acceptance=s.acceptance_rate if s else None,
                    draft=s.draft_model if s else None,
                    duration=time.perf_counter() - t0,
                    error=info.error,
                )
            )

        async def noting_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                report()  # before the last byte: a client that got its answer finds it logged
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            report()

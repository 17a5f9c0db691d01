"""Where the SDK meets the server: `GET /lmstudio-greeting` (how both SDKs recognise a server)
and the websockets `/llm`, `/system`, ... on the same port, in front of the HTTP API.

Both pass the server's guard rules: the Host and Origin checks every request gets (a web page
cannot drive a prediction by opening a websocket to 127.0.0.1), refusals answered as JSON.
The API key is the exception: the greeting says only that a server is there and needs none
(the Python SDK probes it without headers), and a websocket gives the key in the SDK's own
auth packet (app/server/lmstudio_sdk/session.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from app import __version__
from app.server.errors import ApiError
from app.server.guard import AccessPolicy, ASGIApp, Guard, Receive, Scope, Send, check_request
from app.server.lmstudio_sdk.context import SdkServer
from app.server.lmstudio_sdk.session import Session
from app.server.records import RequestLog, RequestRecord

GREETING = "/lmstudio-greeting"
NAMESPACES = ("llm", "system", "embedding", "files", "repository", "diagnostics", "plugins", "runtime")


@dataclass(frozen=True)
class KeyLater(AccessPolicy):
    """The guard's Host and Origin rules as they are for this server, the key left to the SDK's
    auth packet (or not asked, for the greeting)."""

    def key_matches(self, authorization: str, x_api_key: str | None = None) -> bool:  # noqa: ARG002 (the interface's signature)
        return True


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _greet(scope: Scope, _receive: Receive, send: Send) -> None:
    if scope["method"] == "GET":
        status, body = 200, {"lmstudio": True, "server": "Specula", "version": __version__}
        headers = []
    else:
        err = ApiError(
            405, f"{scope['method']} is not allowed on {GREETING} (allowed: GET)", "method_not_allowed"
        )
        status, body, headers = 405, err.body(), [(b"allow", b"GET")]
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _greeting_methods(_path: str) -> frozenset[str] | None:
    """The greeting answers GET (and HEAD) only, like the HTTP routes."""
    return frozenset({"GET", "HEAD"})


class LmStudioSdk:
    """ASGI: the greeting and the SDK's websockets; everything else goes to `app`."""

    def __init__(self, app: ASGIApp, server: SdkServer) -> None:
        self.app, self.server = app, server
        policy = server.config.policy
        self.policy = KeyLater(policy.api_key, policy.cors_any, policy.cors_origins)
        self.greeting = RequestLog(Guard(_greet, self.policy, _greeting_methods), server.report)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
        elif scope["type"] == "http" and path.rstrip("/") == GREETING:
            await self.greeting(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        arrived, t0 = time.time(), time.perf_counter()
        if (await receive())["type"] != "websocket.connect":
            return
        namespace = scope.get("path", "").strip("/")
        client = scope.get("client")
        where = f"{client[0]}:{client[1]}" if client else ""
        try:
            if namespace not in NAMESPACES:
                raise ApiError(
                    404,
                    f"no SDK namespace at {scope.get('path')} (the namespaces: /llm, /system)",
                    "not_found",
                )
            check_request(self.policy, {**scope, "method": "GET"})
        except ApiError as err:
            self.server.report(  # before the answer: a client that got it finds it logged
                RequestRecord(
                    arrived,
                    "GET",
                    str(scope.get("path", "")),
                    err.status,
                    where,
                    duration=time.perf_counter() - t0,
                    error=err.message,
                )
            )
            await self._refuse(scope, send, err)
            return
        await send({"type": "websocket.accept"})
        await Session(self.server, namespace, where, _headers(scope), receive, send).run()

    @staticmethod
    async def _refuse(scope: Scope, send: Send, err: ApiError) -> None:
        """The refusal as an HTTP answer with a JSON body, where the server can send one."""
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
        body = err.json_bytes()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "websocket.http.response.start", "status": err.status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body, "more_body": False})

"""Who may talk to the server: the checks every request passes before any route runs.

A server on 127.0.0.1 is reachable from every web page the user opens. Without an API key:
- the Host header must name this computer (localhost, 127.0.0.1, [::1], any port), so a page
  whose own name was re-pointed at 127.0.0.1 (DNS rebinding) cannot read replies;
- a browser request from another origin is refused unless that origin is allowed: pages served
  from this computer (loopback origins) always are, others only by CORS opt-in (every origin,
  or a list); allowed origins get CORS headers, so their pages can read the reply;
- a POST must say `Content-Type: application/json`: the content types a page may send without
  asking first (forms, text/plain) are refused, so a form cannot post a generation (a POST to a
  route that takes none is left to the router: 405, with the methods it takes);
- Host and Origin are parsed as a browser writes them (host, port; scheme, host, port) and
  anything else is refused: "127.0.0.1:80@evil.example" or "http://evil.example@localhost"
  come from no browser, and a lenient parser would read this computer's name in them.
With an API key (required when serving on the network) it must come as `Authorization:
Bearer KEY` or `x-api-key: KEY` (Anthropic's header), compared in constant time; a page
cannot know it, so Host is not checked then.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from app.server.errors import ApiError
from app.server.records import LOG_KEY

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_HEADERS = 100
MAX_HEADER_BYTES = 16 * 1024  # the request's headers together
MAX_URL_BYTES = 8 * 1024  # path and query
ALLOW_HEADERS = "Authorization, Content-Type, X-Api-Key, Anthropic-Version"
# host [":" port], the host a name, an IPv4 address or a bracketed IPv6 address (RFC 9110, 3986)
_HOST = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~\-]+)(?::(?P<port>[0-9]{1,5}))?")
_ORIGIN = re.compile(r"(?P<scheme>https?)://" + _HOST.pattern)

MethodsOf = Callable[[str], frozenset[str] | None]  # the methods a path's route takes; None: no route


def is_loopback_host(host: str) -> bool:
    """A host name or address of this computer (no port): localhost, 127.x.x.x, ::1."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str | None:
    """The host part of a Host header: "[::1]:1234" -> "::1", "localhost:80" -> "localhost";
    None for anything else ("127.0.0.1:80@evil.example", a path, spaces inside)."""
    value = header.strip()
    with_port = _HOST.fullmatch(value)
    if with_port is not None:
        return with_port["host"].removeprefix("[").removesuffix("]")
    try:
        return str(ipaddress.IPv6Address(value))  # a bare IPv6 address: unambiguous
    except ValueError:
        return None


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def is_loopback_origin(origin: str) -> bool:
    """An Origin as a browser serialises it (scheme://host[:port], nothing else) on this
    computer: user info, a path or a query come from no browser and are not this computer."""
    match = _ORIGIN.fullmatch(origin.strip().lower())
    return match is not None and is_loopback_host(match["host"])


@dataclass(frozen=True)
class AccessPolicy:
    api_key: str | None = None
    cors_any: bool = False  # every origin may use the server from a browser
    cors_origins: tuple[str, ...] = ()  # these origins may, besides this computer's own pages

    def origin_allowed(self, origin: str) -> bool:
        if self.cors_any:
            return True
        if normalize_origin(origin) in {normalize_origin(o) for o in self.cors_origins}:
            return True
        return is_loopback_origin(origin)

    def key_matches(self, authorization: str, x_api_key: str | None = None) -> bool:
        """`Authorization: Bearer KEY`, or Anthropic's `x-api-key: KEY`."""
        if not self.api_key:
            return True
        expected = self.api_key.encode("utf-8")
        if x_api_key is not None and hmac.compare_digest(x_api_key.strip().encode("latin-1"), expected):
            return True
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1"), expected)


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name (latin-1, as HTTP carries them); last one wins."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def check_request(policy: AccessPolicy, scope: Scope, methods: frozenset[str] | None = None) -> None:
    """Raise ApiError (431, 403, 401, 415) when this request may not go on. `methods`: what
    the request's route takes (None: no route); the JSON check is for routes that take POST."""
    raw = scope.get("headers", [])
    if len(raw) > MAX_HEADERS:
        raise ApiError(431, f"more than {MAX_HEADERS} request headers", "too_many_headers", close=True)
    if sum(len(k) + len(v) + 4 for k, v in raw) > MAX_HEADER_BYTES:
        too_big = f"the request headers are over {MAX_HEADER_BYTES // 1024} KB"
        raise ApiError(431, too_big, "headers_too_large", close=True)
    url = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    if url > MAX_URL_BYTES:
        raise ApiError(414, f"the URL is over {MAX_URL_BYTES // 1024} KB", "url_too_long", close=True)
    headers = _headers(scope)
    host = headers.get("host")
    host_name = None if host is None else host_of(host)
    if not policy.api_key and host is not None and (host_name is None or not is_loopback_host(host_name)):
        raise ApiError(
            403,
            f"the Host header {host!r} does not name this computer; without an API key the server "
            "answers only requests addressed to localhost, 127.0.0.1 or [::1] (this protects it "
            "from web pages using DNS rebinding); set an API key to use other names",
            "forbidden_host",
        )
    origin = headers.get("origin")
    if origin is not None and not policy.origin_allowed(origin):
        raise ApiError(
            403,
            f"requests from the web page origin {origin!r} are refused: only pages on this "
            "computer may use the server, unless CORS is enabled for that origin",
            "forbidden_origin",
        )
    if scope["method"] == "OPTIONS":
        return  # a CORS preflight carries no key; it is answered by the guard
    if not policy.key_matches(headers.get("authorization", ""), headers.get("x-api-key")):
        raise ApiError(
            401, "missing or wrong API key (Authorization: Bearer ..., or x-api-key: ...)", "invalid_api_key"
        )
    if scope["method"] == "POST" and methods is not None and "POST" in methods:
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise ApiError(
                415,
                f"POST bodies must be JSON sent with Content-Type: application/json "
                f"(got {media or 'none'!r})",
                "unsupported_media_type",
                close=True,
            )


def allow_header(methods: frozenset[str]) -> str:
    """The methods a route takes, as Allow lists them (OPTIONS is answered for every route)."""
    order = ("GET", "HEAD", "POST")
    return ", ".join([*(m for m in order if m in methods), *sorted(methods - set(order)), "OPTIONS"])


def cors_headers(
    policy: AccessPolicy, origin: str | None, preflight: frozenset[str] | None
) -> list[tuple[bytes, bytes]]:
    """CORS headers for an allowed origin; `preflight`: the route's methods, for a preflight."""
    if origin is None or not policy.origin_allowed(origin):
        return []
    allow = "*" if policy.cors_any else origin
    out = [(b"access-control-allow-origin", allow.encode("latin-1")), (b"vary", b"Origin")]
    if preflight is not None:
        out += [
            (b"access-control-allow-methods", allow_header(preflight).encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", b"600"),
        ]
    return out


async def send_error(
    send: Send, err: ApiError, extra: list[tuple[bytes, bytes]] | None = None, path: str = ""
) -> None:
    """The error in the shape of the API `path` belongs to."""
    body = err.json_bytes(path)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in err.response_headers().items()],
        *(extra or []),
    ]
    if err.close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class Guard:
    """ASGI middleware applying `check_request`, answering CORS preflights (for routes that
    exist, with the methods each takes) and adding CORS headers to the replies of allowed
    origins."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy, methods_of: MethodsOf) -> None:
        self.app = app
        self.policy = policy
        self.methods_of = methods_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _headers(scope).get("origin")
        methods = self.methods_of(scope.get("path", "/"))
        preflight = scope["method"] == "OPTIONS" and methods is not None  # else the router's 404
        extra = cors_headers(self.policy, origin, methods if preflight else None)
        try:
            check_request(self.policy, scope, methods)
        except ApiError as err:
            info = scope.get(LOG_KEY)
            if info is not None:
                info.error = err.message
            await send_error(send, err, extra, scope.get("path", ""))  # an allowed page may read why
            return
        if preflight:
            assert methods is not None
            headers = [(b"allow", allow_header(methods).encode()), (b"content-length", b"0"), *extra]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)

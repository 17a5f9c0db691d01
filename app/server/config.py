"""How a server is set up: where it listens, who may use it, its limits and timeouts."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import InvalidRequestError
from app.server.body import MAX_BODY_BYTES
from app.server.guard import AccessPolicy, is_loopback_host
from app.server.jit import DEFAULT_TTL


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 1234  # 0: any free port
    api_key: str | None = None  # required when `host` is not loopback
    cors: bool = False  # every web page origin may use the server (and read its replies)
    cors_origins: tuple[str, ...] = ()  # these origins may, besides this computer's own pages
    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout: float = 5.0  # seconds a request body may pause midway (408 after that)
    head_timeout: float = 10.0  # seconds for a request line and headers to arrive
    keep_alive_timeout: float = 5.0  # an idle connection is closed after this
    idle_ttl: float = DEFAULT_TTL  # seconds a model loaded on demand stays loaded when unused
    auto_evict: bool = True  # loading a model on demand frees the others loaded on demand
    sweep_interval: float = 0.5  # how often idle models are looked at

    def check(self) -> None:
        if not is_loopback_host(self.host) and not self.api_key:
            raise InvalidRequestError(
                f"serving on {self.host} (not loopback) requires an API key (--api-key)"
            )
        if not 0 <= self.port <= 65535:
            raise InvalidRequestError(f"port {self.port} is not a port number (1 to 65535, 0: any free one)")
        for name in ("body_timeout", "head_timeout", "keep_alive_timeout", "idle_ttl", "sweep_interval"):
            if not getattr(self, name) > 0:
                raise InvalidRequestError(f"{name} must be a positive number of seconds")

    @property
    def policy(self) -> AccessPolicy:
        return AccessPolicy(self.api_key or None, self.cors, self.cors_origins)

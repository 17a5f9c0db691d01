"""`specula serve`: the local OpenAI-compatible server in the foreground."""

from __future__ import annotations

import argparse
import math
from typing import Any

from app.core.errors import SpeculaError


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 1 to 65535 (0: any free port)")
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def add_parser(sub: Any) -> None:
    srv = sub.add_parser("serve", help="run the local OpenAI-compatible server")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=port, default=1234)
    srv.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' (needed off loopback)"
    )
    srv.add_argument(
        "--cors", action="store_true", help="let web pages from any origin use the server (and read replies)"
    )
    srv.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let web pages from this origin use the server, e.g. https://example.org (repeatable)",
    )
    srv.add_argument(
        "--ttl",
        type=seconds,
        default=None,
        metavar="SECONDS",
        help="unload a model the server loaded on demand after this long unused (default 3600)",
    )
    srv.add_argument(
        "--no-auto-evict",
        action="store_true",
        help="keep every model loaded on demand (by default loading one frees the others)",
    )
    srv.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.server.config import ServerConfig
    from app.server.jit import DEFAULT_TTL
    from app.server.serving import serve

    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key or None,
        cors=args.cors,
        cors_origins=tuple(args.cors_origin),
        idle_ttl=args.ttl or DEFAULT_TTL,
        auto_evict=not args.no_auto_evict,
    )
    try:
        return serve(config)
    except (OSError, OverflowError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SpeculaError(f"cannot listen on {args.host}:{args.port}: {reason}") from None

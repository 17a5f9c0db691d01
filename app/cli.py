"""Command line: `specula` / `python -m app [command]`.

Every failure a user can cause (bad arguments, a missing or broken model file, an
incompatible draft, a prompt too long) ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import threading
from collections.abc import Sequence

from app import __version__
from app.core import model_settings
from app.core.errors import SpeculaError
from app.core.events import GenerationResult, TokenEvent
from app.core.request import ChatMessage, DraftSettings, GenerationRequest, Role, SamplingSettings

EXIT_FAILURE = 1


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be a port number, 1 to 65535 (0: any free port)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


TEXT_ARGUMENTS = {
    "prompt": "--prompt",
    "system_prompt": "--system",
    "stop": "--stop",
    "api_key": "--api-key",
    "host": "--host",
    "cors_origin": "--cors-origin",
}


def _check_text(args: argparse.Namespace) -> str | None:
    """Text a model or the network will see must be valid UTF-8; the shell passes undecodable
    bytes through as lone surrogates, which would fail deep inside. (Paths may hold any bytes.)"""
    for name, flag in TEXT_ARGUMENTS.items():
        value = getattr(args, name, None)
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                code = ord(text[exc.start])
                what = (
                    f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
                )
                return (
                    f"{flag} is not valid UTF-8 text ({what} at position "
                    f"{exc.start + 1}); convert it to UTF-8"
                )
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specula",
        description="Chat with local LLMs, faster with speculative decoding.",
    )
    parser.add_argument("--version", action="version", version=f"specula {__version__}")
    parser.add_argument(
        "--verbose", action="store_true", help="log debug details (to the log file and stderr)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load the bundled model, generate a few tokens with a draft, exit 0 on success",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate a reply headlessly and stream it to stdout")
    gen.add_argument(
        "--model", help="main model: a .gguf path or a model name (default: bundled Gemma 3 270M)"
    )
    gen.add_argument("--no-draft", action="store_true", help="ignore the model's default draft")
    gen.add_argument("--prompt", required=True, help="the user message (or the raw prompt with --raw)")
    gen.add_argument("--raw", action="store_true", help="send the prompt as-is, without the chat template")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    gen.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    settings = gen.add_argument_group(
        "per-model settings", "unset flags keep the model's defaults from My Models"
    )
    model_settings.add_cli_flags(settings)
    gen.set_defaults(handler=_cmd_generate)

    from app.cli_models import add_advise_parser, add_models_parser

    add_models_parser(sub)
    add_advise_parser(sub)
    srv = sub.add_parser("serve", help="run the local OpenAI-compatible server")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=_port, default=1234)
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
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="unload a model the server loaded on demand after this long unused (default 3600)",
    )
    srv.add_argument(
        "--no-auto-evict",
        action="store_true",
        help="keep every model loaded on demand (by default loading one frees the others)",
    )
    srv.set_defaults(handler=_cmd_serve)
    doctor = sub.add_parser("doctor", help="report engines, folders and models found")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=_cmd_doctor)
    doc = sub.add_parser("settings-doc", help="print the per-model settings reference (Markdown)")
    doc.set_defaults(handler=lambda _args: print(model_settings.markdown_table(), end="") or 0)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """What the command line says; None (unset) leaves the model's defaults in place."""
    values = model_settings.cli_values(args)
    if args.no_draft:
        values["draft_model"] = ""
    return values


def _request_from(args: argparse.Namespace, values: dict[str, object], engine: str) -> GenerationRequest:
    sampling = SamplingSettings.from_values(values, seed=args.seed)
    draft = DraftSettings.from_values(values, engine)
    max_tokens = int(values["max_tokens"])  # type: ignore[call-overload]
    if args.raw:
        return GenerationRequest(
            prompt=args.prompt, max_tokens=max_tokens, sampling=sampling, draft=draft, stop=tuple(args.stop)
        )
    messages = []
    system = values["system_prompt"]
    if system:
        messages.append(ChatMessage(Role.SYSTEM, str(system)))
    messages.append(ChatMessage(Role.USER, args.prompt))
    return GenerationRequest(
        messages=tuple(messages), max_tokens=max_tokens, sampling=sampling, draft=draft, stop=tuple(args.stop)
    )


class _Progress:
    """Percent progress on stderr: redrawn in place on a terminal, a few lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = -1
        self.step = 1 if sys.stderr.isatty() else 25

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if pct // self.step == self.last // self.step and pct < 100:
            return
        self.last = pct
        if self.step == 1:
            print(f"\r{self.label}... {pct}%", end="\n" if pct >= 100 else "", file=sys.stderr, flush=True)
        else:
            print(f"{self.label}... {pct}%", file=sys.stderr, flush=True)


def _cmd_generate(args: argparse.Namespace) -> int:
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.resolve import resolve_model
    from app.runtime import LoadSettings, ModelRuntime

    progress = None if args.json else _Progress("Preparing the bundled model")
    library = ModelLibrary()
    defaults = ModelDefaultsStore()
    main_ref = resolve_model(args.model, library, progress)
    values = defaults.effective(main_ref.key, _overrides(args))
    request = _request_from(args, values, "MLX" if main_ref.path.is_dir() else "llama.cpp")
    request.validate()
    runtime = ModelRuntime(library, defaults)
    cancel = threading.Event()
    result: GenerationResult | None = None
    tokens: list[dict[str, str]] = []
    try:
        lease = runtime.lease(
            main_ref.key,
            values["draft_model"],
            cancel=cancel,
            settings=LoadSettings(int(values["context_length"]), int(values["gpu_offload"])),
        )
        with lease:
            for item in lease.generate(request, cancel=cancel):
                if isinstance(item, TokenEvent):
                    if args.json:
                        tokens.append({"text": item.text, "origin": item.origin.value})
                    else:
                        sys.stdout.write(item.text)
                        sys.stdout.flush()
                elif isinstance(item, GenerationResult):
                    result = item
    except KeyboardInterrupt:
        cancel.set()
        return 130
    finally:
        runtime.close()
    assert result is not None
    if args.json:
        print(
            json.dumps(
                {"text": result.text, "tokens": tokens, "stats": result.stats.to_dict()}, ensure_ascii=False
            )
        )
    else:
        print()
        s = result.stats
        line = (
            f"{s.tokens_per_second:.1f} tok/s, {s.predicted_tokens_count} tokens, "
            f"first token {s.time_to_first_token:.2f}s, stop: {s.stop_reason.value}"
        )
        if s.draft_model:
            line += f", accepted {s.accepted_draft_tokens_count}/{s.total_draft_tokens_count} draft tokens"
        if s.draft_note:
            line += f" ({s.draft_note})"
        print(line, file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from app.doctor import doctor_report

    report = doctor_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Specula {report['specula']} (Python {report['python']}, {report['platform']})")
    for name, info in report["engines"].items():
        if info.get("available"):
            extra = info.get("version") or info.get("device") or ""
            gpu = info.get("gpu_offload")
            print(
                f"  {name}: available {extra}"
                + ("" if gpu is None else f", GPU offload: {'yes' if gpu else 'no'}")
            )
        else:
            print(f"  {name}: not available" + (f" ({info['install']})" if "install" in info else ""))
    for name, value in report["folders"].items():
        print(f"  {name}: {value}")
    bundled = report["bundled_model"]
    print(f"  bundled model: {'prepared' if bundled['prepared'] else 'not prepared yet'} ({bundled['path']})")
    print(f"  conversations: {report['conversations']}")
    print(f"  models found: {report['models_found']}")
    for problem in report["problems"]:
        print(f"  problem: {problem}")
    for warning in report["warnings"]:
        print(f"  warning: {warning}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from app.logs import log_file, setup_logging

    setup_logging(args.verbose)
    for stream in (sys.stdout, sys.stderr):  # a file name of any bytes must not end a listing
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    bad_text = _check_text(args)
    if bad_text is not None:
        parser.error(bad_text)
    if args.self_test:
        from app.doctor import self_test

        return self_test()
    if args.command is None:
        from app.ui.app import run_app

        return run_app()
    try:
        return int(args.handler(args))
    except SpeculaError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug, not bad input: one line here, the traceback in the log
        logging.getLogger(__name__).info("unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {one_line(str(exc))} (details in {log_file()})",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def one_line(message: str, limit: int = 400) -> str:
    """An error for the terminal: its first line, shortened; the log keeps the rest."""
    lines = message.strip().splitlines() or [""]
    first = lines[0]
    if len(first) > limit:
        first = first[:limit] + "..."
    if len(lines) > 1:
        first += f" (and {len(lines) - 1} more lines in the log)"
        logging.getLogger(__name__).info("full error: %s", message)
    return first

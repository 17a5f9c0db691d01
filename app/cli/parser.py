"""The command line's grammar: every command, its flags, and checks on what was typed."""

from __future__ import annotations

import argparse

from app import __version__
from app.cli import advise, chats, doctor, generate, models, serve
from app.core import model_settings

TEXT_ARGUMENTS = {
    "prompt": "--prompt",
    "system_prompt": "--system",
    "stop": "--stop",
    "api_key": "--api-key",
    "host": "--host",
    "cors_origin": "--cors-origin",
}


def check_text(args: argparse.Namespace) -> str | None:
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
    generate.add_parser(sub)
    models.add_parser(sub)
    advise.add_parser(sub)
    serve.add_parser(sub)
    doctor.add_parser(sub)
    chats.add_parser(sub)
    doc = sub.add_parser("settings-doc", help="print the per-model settings reference (Markdown)")
    doc.set_defaults(handler=_settings_doc)
    return parser


def _settings_doc(_args: argparse.Namespace) -> int:
    print(model_settings.markdown_table(), end="")
    return 0

"""`main`: parse, set up logging, run a command, and turn every failure into one line."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence

from app.cli.parser import build_parser, check_text
from app.core.errors import SpeculaError

EXIT_FAILURE = 1

# where a person at the terminal can look when a model is not found, by what was not found
MODEL_HINTS = {
    "name": "give a path, or see `specula models`",
    "outside": "add its folder with `specula models --add-folder DIR`",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from app.logs import log_file, setup_logging

    setup_logging(args.verbose)
    for stream in (sys.stdout, sys.stderr):  # a file name of any bytes must not end a listing
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    bad_text = check_text(args)
    if bad_text is not None:
        parser.error(bad_text)
    if args.self_test:
        from app.cli.doctor import self_test

        return self_test()
    if args.command is None:
        from app.ui.app import run_app

        return run_app()
    try:
        return int(args.handler(args))
    except SpeculaError as exc:
        print(f"error: {one_line(_in_words(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug, not bad input: one line here, the traceback in the log
        logging.getLogger(__name__).info("unexpected error", exc_info=True)
        print(
            f"error: unexpected {type(exc).__name__}: {one_line(str(exc))} (details in {log_file()})",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _in_words(exc: SpeculaError) -> str:
    from app.library.resolve import UnknownModelError  # only when a command failed: fast starts

    if isinstance(exc, UnknownModelError) and exc.kind in MODEL_HINTS:
        return exc.hinted(MODEL_HINTS[exc.kind])
    return str(exc)


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

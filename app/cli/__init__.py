"""Command line: `specula` / `python -m app [command]`, the top room.

It may use every room below it, and the window (app.ui) only lazily, to start it; nothing
imports it. One module per command (generate, models, advise, serve, doctor) beside the
parser and the entry point. Every failure a user can cause (bad arguments, a missing or broken
model file, an incompatible draft, a prompt too long) ends in one line on stderr and a
non-zero exit.
"""

from app.cli.entry import main

__all__ = ["main"]

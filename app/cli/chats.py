"""`specula chats`: list, export and import conversations from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("chats", help="list, export and import conversations")
    commands = p.add_subparsers(dest="chats_command", metavar="ACTION", required=True)
    listing = commands.add_parser("list", help="list conversations (id, title, messages, updated)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)
    export = commands.add_parser("export", help="write conversations as Markdown, JSON or HTML")
    export.add_argument(
        "ids", nargs="*", type=int, metavar="ID", help="conversations to export (see `chats list`)"
    )
    export.add_argument("--all", action="store_true", help="export every conversation")
    export.add_argument(
        "--format", choices=("md", "json", "html"), help="default: from --out's suffix, else md"
    )
    export.add_argument(
        "--out", required=True, metavar="PATH", help="the file to write (- for standard output)"
    )
    export.set_defaults(handler=run_export)
    imp = commands.add_parser(
        "import",
        help="import our JSON, LM Studio conversations or ChatGPT's conversations.json (files or folders)",
    )
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.set_defaults(handler=run_import)


def _store(create: bool) -> Any:
    """The conversations file (None when there is none yet and `create` is False); what
    happened to it, when something did, is said on stderr."""
    from app.chat.store import ChatStore
    from app.library.paths import data_dir

    path = data_dir() / "conversations.sqlite3"
    if not create and not path.exists():
        return None
    store = ChatStore(path)
    if store.notice is not None:
        print(f"warning: {store.notice.message}", file=sys.stderr)
    return store


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


def run_list(args: argparse.Namespace) -> int:
    from app.chat.transfer.store_io import conversation_list

    store = _store(create=False)
    rows = conversation_list(store) if store is not None else []
    if store is not None:
        store.close()
    if args.json:
        print(
            json.dumps(
                [{"id": i, "title": t, "messages": n, "updated": _iso(u)} for i, t, n, u in rows], indent=2
            )
        )
        return 0
    if not rows:
        print("no conversations yet")
        return 0
    width = max(len(str(r[0])) for r in rows)
    for i, title, n, updated in rows:
        print(f"{i:>{width}}  {_iso(updated).replace('T', ' ')}  {n:>5} messages  {title}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from app.chat.transfer.exporting import format_of, read_conversations, render
    from app.core.errors import InvalidRequestError
    from app.library.atomic import write_text_atomic

    if bool(args.ids) == bool(args.all):
        raise InvalidRequestError(
            "name the conversations to export (IDs from `specula chats list`) or give --all"
        )
    out = None if args.out == "-" else Path(args.out)
    fmt = args.format or (format_of(out) if out is not None else "md")
    store = _store(create=False)
    if store is None:
        raise InvalidRequestError("there are no conversations yet")
    try:
        conversations = read_conversations(store, None if args.all else args.ids)
        text = render(conversations, fmt)
    finally:
        store.close()
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)
        n = len(conversations)
        print(f"exported {n} conversation{'s' if n != 1 else ''} to {out}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """0 when something was imported (or all of it was already here), 1 when nothing was."""
    from app.chat.transfer.importing import import_paths

    store = _store(create=True)
    try:
        summary = import_paths(store, [p.expanduser() for p in args.paths])
    finally:
        store.close()
    if args.json:
        print(
            json.dumps(
                {
                    "imported": [
                        {
                            "id": i.conversation_id,
                            "title": i.title,
                            "messages": i.messages,
                            "source": i.source,
                            "path": str(i.path),
                        }
                        for i in summary.imported
                    ],
                    "already_here": [
                        {"id": i.conversation_id, "title": i.title, "path": str(i.path)}
                        for i in summary.already
                    ],
                    "skipped": [{"path": str(s.path), "reason": s.reason} for s in summary.skipped],
                },
                indent=2,
            )
        )
    else:
        for line in summary.lines():
            print(line)
    ok = summary.anything_imported or (bool(summary.already) and not summary.skipped)
    return 0 if ok else 1

"""`specula models`: the library, compatible drafts and imports, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model library, compatible drafts, import models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--drafts", metavar="MODEL", help="list compatible drafts for MODEL and why others are not"
    )
    p.add_argument("--import", dest="import_path", metavar="PATH", help="copy a .gguf or MLX folder in")
    p.add_argument("--add-folder", metavar="DIR", help="also look for models in DIR")
    p.add_argument("--remove-folder", metavar="DIR", help="stop looking in DIR")
    p.add_argument(
        "--add-server",
        metavar="URL",
        help="list the models of a server (another Specula, llama-server, vLLM, SGLang, any "
        "OpenAI-compatible one) as <server name>/<model>",
    )
    p.add_argument("--name", metavar="NAME", help="with --add-server: the server's name (default: host:port)")
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="with --add-server: read the server's API key from this environment variable "
        "(kept in the system keyring, never in Specula's files)",
    )
    p.add_argument(
        "--remove-server", metavar="NAME", help="stop listing a server's models (and forget its key)"
    )
    p.set_defaults(handler=run)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _entry_json(e: Any) -> dict[str, Any]:
    remote = e.remote
    where = (
        {
            "server": remote.server,
            "server_kind": remote.kind,
            "online": remote.online,
            "model_id": remote.model_id,
        }
        if remote is not None
        else {}
    )
    return where | {
        "key": e.key,
        "name": e.name,
        "engine": e.engine,
        "architecture": e.architecture,
        "parameters": e.parameter_count,
        "quantization": e.quantization,
        "size_bytes": e.size_bytes,
        "context_length": e.context_length,
        "vocab_fingerprint": e.vocab_fingerprint,
        "path": e.path,
    }


def _add_server(library: Any, args: argparse.Namespace) -> None:
    import os

    from app.core.errors import InvalidRequestError

    key = None
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise InvalidRequestError(
                f"--api-key-env: the environment variable {args.api_key_env} is not set"
            )
    server = library.add_server(args.add_server, args.name, key)
    library.refresh_servers()
    listing = library.listings.get(server.name)
    if listing is not None and listing.online:
        found = sum(1 for e in library.remote_entries.values() if e.source == server.name)
        models = f"{found} model{'s' * (found != 1)}"
        print(f"added {server.name} ({listing.kind.label}, {server.url}): {models}")
    else:
        why = listing.problem if listing is not None else "not listed"
        print(f"added {server.name} ({server.url}); it did not list its models: {why}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from app.core.errors import InvalidRequestError
    from app.library.compat_index import TRANSLATED_BADGE, CompatibilityIndex
    from app.library.library import ModelLibrary
    from app.library.resolve import resolve_model
    from app.library.server_listing import kind_of

    library = ModelLibrary()
    if (args.name or args.api_key_env) and not args.add_server:
        raise InvalidRequestError("--name and --api-key-env go with --add-server URL")
    if args.add_server:
        _add_server(library, args)
        return 0
    if args.remove_server:
        if not library.remove_server(args.remove_server):
            raise InvalidRequestError(f"no server named {args.remove_server!r} (see `specula models`)")
        print(f"removed {args.remove_server}")
        return 0
    if args.add_folder:
        library.add_folder(Path(args.add_folder))
    if args.remove_folder:
        library.remove_folder(Path(args.remove_folder))
    if args.import_path:
        entry = library.import_model(Path(args.import_path))
        print(f"imported {entry.key}")
        return 0
    if args.drafts:
        ref = resolve_model(args.drafts, library, in_library=True)
        report = CompatibilityIndex(library).drafts_for(ref.key)
        if args.json:
            print(
                json.dumps(
                    {
                        "main": report.main.key,
                        "compatible": [
                            {
                                **_entry_json(o.entry),
                                "recommended": o.recommended,
                                "note": o.note,
                                "verdict": "translated" if o.translated else "compatible",
                                "shared_token_share": o.share,
                                "reason": o.reason,
                            }
                            for o in report.compatible
                        ],
                        "incompatible": [{"key": e.key, "reason": r} for e, r in report.incompatible],
                        "advice": report.advice,
                    },
                    indent=2,
                )
            )
            return 0
        print(f"Drafts for {report.main.key} ({report.main.params_label}):")
        for o in report.compatible:
            mark = "*" if o.recommended else " "
            badge = f" {TRANSLATED_BADGE}" if o.translated else ""
            print(f" {mark}{badge} {o.entry.key}  {o.entry.params_label}  {o.note}")
        if not report.compatible:
            print("   none")
        if report.incompatible:
            print("Not compatible:")
            for e, reason in report.incompatible:
                print(f"   {e.key}: {reason}")
        if report.advice:
            print(report.advice)
        return 0
    library.ensure_servers_listed()
    entries = sorted(library.all_entries.values(), key=lambda e: e.key)
    if args.json:
        print(
            json.dumps(
                {
                    "models": [_entry_json(e) for e in entries],
                    "problems": [{"path": p.path, "reason": p.reason} for p in library.problems],
                },
                indent=2,
            )
        )
        return 0
    if not entries:
        print("No models found. Folders searched:")
        for root in library.roots():
            print(f"  {root.path}")
    from app.engines.mlx import INSTALL_HINT, mlx_available

    for e in entries:
        if e.remote is not None:
            state = "online" if e.remote.online else f"offline: {e.remote.detail}"
            kind = kind_of(e.remote.kind).label
            print(f"{e.key}\n    remote: {kind} server {e.remote.server} at {e.remote.url}, {state}")
            continue
        print(
            f"{e.key}\n    {e.engine}, {e.architecture}, {e.params_label} params, "
            f"{e.quantization or '?'}, {_size(e.size_bytes)}, context {e.context_length or '?'}"
        )
        if e.engine == "MLX" and not mlx_available():
            print(f"    needs the MLX engine: {INSTALL_HINT}")
    if library.problems:
        print("\nProblems:", file=sys.stderr)
        for p in library.problems:
            print(f"  {p.path}: {p.reason}", file=sys.stderr)
    return 0

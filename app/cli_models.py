"""`specula models`: the library, compatible drafts and imports, from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.core.errors import SpeculaError


def add_advise_parser(sub: Any) -> None:
    p = sub.add_parser("advise", help="benchmark every compatible draft for a model and recommend one")
    p.add_argument("model", help="main model: library key, name or path")
    p.add_argument("--max-tokens", type=int, default=48, help="tokens per prompt (default 48)")
    p.add_argument("--save", action="store_true", help="save the recommendation as the model's default draft")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run_advise)


def run_advise(args: argparse.Namespace) -> int:
    from app.core.request import DraftSettings
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.resolve import resolve_model
    from app.runtime import ModelRuntime
    from app.runtime.advisor import advise, library_candidates

    library = ModelLibrary()
    ref = resolve_model(args.model, library)
    if ref.key not in library.entries:
        raise SpeculaError(
            f"{args.model} is not in a library folder; add its folder with `models --add-folder`"
        )
    entry = library.entries[ref.key]
    store = ModelDefaultsStore()
    runtime = ModelRuntime(library, store)
    settings = DraftSettings.from_values(store.effective(ref.key), entry.engine)

    def show(done: int, total: int) -> None:
        if not args.json:
            print(f"measuring... {done}/{total}", file=sys.stderr)

    try:
        candidates = library_candidates(runtime, ref.key)
        advice = advise(runtime, ref.key, candidates, settings, max_tokens=args.max_tokens, progress=show)
    finally:
        runtime.close()
    if args.save and advice.recommended is not None:
        store.update(ref.key, {"draft_model": advice.recommended.key})
    if args.json:
        print(
            json.dumps(
                {
                    "model": ref.key,
                    "results": [r.to_json() for r in advice.results],
                    "recommended": advice.recommended.key if advice.recommended else None,
                    "summary": advice.summary,
                },
                indent=2,
            )
        )
        return 0
    for r in advice.results:
        acc = f", {100 * r.acceptance:.0f}% accepted" if r.acceptance is not None else ""
        print(f"{r.name}: {r.tokens_per_second:.1f} tok/s ({r.speedup:.2f}x){acc}")
    print(advice.summary)
    return 0


def add_models_parser(sub: Any) -> None:
    p = sub.add_parser("models", help="list the model library, compatible drafts, import models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--drafts", metavar="MODEL", help="list compatible drafts for MODEL and why others are not"
    )
    p.add_argument("--import", dest="import_path", metavar="PATH", help="copy a .gguf or MLX folder in")
    p.add_argument("--add-folder", metavar="DIR", help="also look for models in DIR")
    p.add_argument("--remove-folder", metavar="DIR", help="stop looking in DIR")
    p.set_defaults(handler=run_models)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _entry_json(e: Any) -> dict[str, Any]:
    return {
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


def run_models(args: argparse.Namespace) -> int:
    from app.library.compat_index import TRANSLATED_BADGE, CompatibilityIndex
    from app.library.library import ModelLibrary
    from app.library.resolve import resolve_model

    library = ModelLibrary()
    if args.add_folder:
        library.add_folder(Path(args.add_folder))
    if args.remove_folder:
        library.remove_folder(Path(args.remove_folder))
    if args.import_path:
        entry = library.import_model(Path(args.import_path))
        print(f"imported {entry.key}")
        return 0
    if args.drafts:
        ref = resolve_model(args.drafts, library)
        if ref.key not in library.entries:
            raise SpeculaError(f"{args.drafts} is not in a library folder; add its folder with --add-folder")
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
    entries = sorted(library.entries.values(), key=lambda e: e.key)
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

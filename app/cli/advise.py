"""`specula advise`: measure every compatible draft for a model and recommend one."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("advise", help="benchmark every compatible draft for a model and recommend one")
    p.add_argument("model", help="main model: library key, name or path")
    p.add_argument("--max-tokens", type=int, default=48, help="tokens per prompt (default 48)")
    p.add_argument("--save", action="store_true", help="save the recommendation as the model's default draft")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.core.request import DraftSettings
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.resolve import resolve_model
    from app.runtime import ModelRuntime
    from app.runtime.advisor import AdvisorStep, advise, library_candidates

    library = ModelLibrary()
    ref = resolve_model(args.model, library, in_library=True)
    store = ModelDefaultsStore()
    runtime = ModelRuntime(library, store)
    settings = DraftSettings.from_values(store.effective(ref.key), ref.engine)

    def show(step: AdvisorStep) -> None:
        if not args.json and step.doing:
            print(f"measuring {step.doing}... ({step.done}/{step.total} runs done)", file=sys.stderr)

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
        band = f" ±{100 * r.noise:.0f}%" if r.noise else ""
        print(f"{r.name}: {r.tokens_per_second:.1f} tok/s ({r.speedup:.2f}x{band}){acc}")
    print(advice.summary)
    return 0

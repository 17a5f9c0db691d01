"""Auto's first replies with a new pair, reply by reply: what it drafted and why it paused.

The deeper pair (the deeper twin of Gemma 3 270M, its Q4_K_M as draft) at the app's default
sampling (temperature 0.8), Auto on, fresh memory: the bench's three prompts at each length,
`--repeats` times over, and nothing else in between (speculative_bench.py interleaves fixed
sizes, so there Auto's learning is spread over the section). Each reply prints its decode
rate, its drafting rounds, the tokens drafted per drafting round and accepted, the rounds by
why they drafted nothing, and Auto's note. How long Auto takes to learn a new pair, and what
its first runs cost, are what this shows.

    python bench/auto_first_replies.py [--json] [--lengths 64,160] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.request import DraftSettings, SamplingSettings
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.speculation_memory import SpeculationMemory
from bench.bench_support import generate
from bench.speculative_bench import PROMPTS
from tests.model_factory import gemma_deeper_twin, gemma_q4


def reply(
    main: LlamaCppModel, draft: ModelDraft, prompt: str, n: int, memory: SpeculationMemory
) -> dict[str, Any]:
    s = generate(main, draft, prompt, n, SamplingSettings(), DraftSettings(auto=True), memory)
    return {
        "tok_s": round(s.tok_s, 1),
        "drafting_rounds": s.drafting_rounds,
        "drafted_per_drafting_round": round(s.sent / s.drafting_rounds, 1) if s.drafting_rounds else 0.0,
        "accepted": s.accepted,
        "paused_rounds": s.paused,
        "note": s.note,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--lengths", default="64,160")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    opts = LoadOptions(n_ctx=1024, n_threads=args.threads or os.cpu_count() or 1)
    main_model = LlamaCppModel(gemma_deeper_twin(), opts)
    draft = ModelDraft(LlamaCppModel(gemma_q4(), opts))
    memory = SpeculationMemory(Path(tempfile.mkdtemp(prefix="specula-auto-first-")) / "speculation.json")
    out: list[dict[str, Any]] = []
    try:
        for _ in range(args.repeats):
            for name, prompt in PROMPTS.items():
                for n in (int(x) for x in args.lengths.split(",")):
                    row = {"reply": len(out) + 1, "prompt": name, "tokens": n}
                    row.update(reply(main_model, draft, prompt, n, memory))
                    out.append(row)
                    if not args.json:
                        print(json.dumps(row), flush=True)
    finally:
        main_model.close()
        draft.model.close()
    if args.json:
        print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

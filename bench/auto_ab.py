"""Two versions of Auto's rule, interleaved reply by reply on the deeper pair.

Auto's changes move its speed by a few percent, and on a shared CPU two runs of the same code
differ by more than that, so comparing two benchmark runs says little. This runs both rules
in one process (the other one's app/engines/auto_draft.py loaded from another checkout, e.g. a
git worktree of main), each with a memory of its own and a cold first reply, beside plain
decoding and fixed draft sizes 8 and 16, in turn on the bench's three prompts at 64 and 160
tokens, `--cycles` times over. It prints each one's median speed over plain per length and
prompt, and this rule's speed over the other's paired reply by reply (the reply run just before
it, same prompt, same length): the figure to judge a change by.

    python bench/auto_ab.py --other PATH [--cycles 3] [--greedy] [--useless] [--json]

`--useless`: the 2-layer cut of the draft instead (no fixed sizes: they lose four fifths).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import app.engines.auto_reply as auto_reply
from app.core.request import DraftSettings
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.speculation_memory import SpeculationMemory
from bench.bench_support import generate
from bench.speculative_bench import DEFAULTS, GREEDY, PROMPTS, fixed
from tests.model_factory import gemma_cut_down, gemma_deeper_twin, gemma_q4


def accepting_what_it_knows(rule: type) -> Any:
    """The other rule, given only the arguments its constructor takes (an older one knows
    fewer)."""
    known = set(inspect.signature(rule.__init__).parameters)

    def make(*args: Any, **kwargs: Any) -> Any:
        return rule(*args, **{k: v for k, v in kwargs.items() if k in known})

    return make


def load_rule(checkout: Path) -> ModuleType:
    """The other checkout's auto_draft module, under a name of its own."""
    spec = importlib.util.spec_from_file_location("other_auto_draft", checkout / "app/engines/auto_draft.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"no app/engines/auto_draft.py under {checkout}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--other", type=Path, required=True, help="a checkout with the other rule")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--greedy", action="store_true", help="temperature 0 (default: the app's 0.8)")
    parser.add_argument("--useless", action="store_true", help="the 2-layer cut as draft")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rules = {"other": accepting_what_it_knows(load_rule(args.other).AutoDraft), "this": auto_reply.AutoDraft}
    sampling = GREEDY if args.greedy else DEFAULTS
    opts = LoadOptions(n_ctx=1024, n_threads=args.threads or os.cpu_count() or 1)
    main_model = LlamaCppModel(gemma_deeper_twin(), opts)
    draft_model = LlamaCppModel(gemma_cut_down() if args.useless else gemma_q4(), opts)
    fixed_sizes = () if args.useless else ("fixed_8", "fixed_16")
    configs = ("plain", *fixed_sizes, "other", "this")
    draft = ModelDraft(draft_model)
    folder = Path(tempfile.mkdtemp(prefix="specula-auto-ab-"))
    memories = {name: SpeculationMemory(folder / f"{name}.json") for name in (*rules, "fixed")}
    rates: dict[tuple[Any, ...], list[float]] = {}
    cold: dict[str, float] = {}

    def reply(name: str, prompt: str, n: int) -> float:
        if name in rules:
            auto_reply.AutoDraft = rules[name]  # type: ignore[misc]
            settings, source = DraftSettings(auto=True), draft
        elif name == "plain":
            settings, source = DraftSettings(), None
        else:
            settings, source = fixed(int(name.split("_")[1])), draft
        memory = memories.get(name, memories["fixed"])
        return generate(main_model, source, prompt, n, sampling, settings, memory).tok_s

    try:
        for name in rules:
            cold[name] = round(reply(name, PROMPTS["prose"], 64), 2)
        for _ in range(args.cycles):
            for label, prompt in PROMPTS.items():
                for n in (64, 160):
                    for name in configs:
                        rate = reply(name, prompt, n)
                        rates.setdefault((n, name), []).append(rate)
                        rates.setdefault((n, label, name), []).append(rate)
    finally:
        auto_reply.AutoDraft = rules["this"]  # type: ignore[misc]
        main_model.close()
        draft_model.close()
    report: dict[str, Any] = {
        "draft": "2-layer cut" if args.useless else "Q4_K_M",
        "temperature": sampling.temperature,
        "cycles": args.cycles,
        "cold_tok_s": cold,
    }
    for n in (64, 160):
        plain = statistics.median(rates[(n, "plain")])
        pairs = [a / b for a, b in zip(rates[(n, "this")], rates[(n, "other")], strict=True)]
        report[f"{n}_tokens"] = {
            "speedup_vs_plain": {
                name: round(statistics.median(rates[(n, name)]) / plain, 3) for name in configs
            },
            "this_vs_other_paired": round(statistics.median(pairs), 3),
            "this_ahead": f"{sum(p > 1 for p in pairs)} of {len(pairs)}",
            "tok_s_by_prompt": {
                label: {name: round(statistics.median(rates[(n, label, name)]), 1) for name in configs}
                for label in PROMPTS
            },
        }
    print(json.dumps(report, indent=2 if args.json else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())

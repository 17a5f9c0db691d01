"""Drafts with another tokenizer, measured: the bundled Gemma with its normal token ids
shuffled (the permuted twin: the same model behind another tokenizer's ids) drafts for the F16
twin through translation, side by side with the exact Q4_K_M twin, in one run.

Configurations (greedy, fixed draft size, cutoff 0, interleaved per prompt, medians):
plain; exact (Q4_K_M); translated through the one-to-one id table ("map"); translated
through text, re-tokenizing at the seam ("text"). Reported: tok/s, acceptance, and ratios to
plain and to the exact draft; every translated reply's text is checked against plain.

    python bench/translated_bench.py [--json] [--max-tokens 64] [--draft-size 4] [--repeats 1]
        [--main f16|deeper]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.request import DraftSettings, SamplingSettings
from app.engines.drafting import DraftSource, ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.speculation_memory import SpeculationMemory
from app.engines.translated_draft import TranslatedDraft
from bench.bench_support import Series, generate
from tests.model_factory import (
    gemma_deeper_twin,
    gemma_f16_twin,
    gemma_permuted_twin,
    gemma_q4,
)

PROMPTS = [
    "The history of the printing press begins",
    "def quicksort(items):\n",
    "Le café de la gare est",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--draft-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--main", choices=["f16", "deeper"], default="f16")
    args = parser.parse_args()

    options = LoadOptions(n_ctx=1024)
    main_path = gemma_f16_twin() if args.main == "f16" else gemma_deeper_twin()
    main = LlamaCppModel(main_path, options)
    exact = LlamaCppModel(gemma_q4(), options)
    permuted = LlamaCppModel(gemma_permuted_twin(), options)
    contenders: dict[str, DraftSource | None] = {
        "plain": None,
        "exact_q4": ModelDraft(exact),
        "translated_map": TranslatedDraft(main, permuted),
        "translated_text": TranslatedDraft(main, permuted, fast_path=False),
    }
    sampling = SamplingSettings(temperature=0.0, repeat_penalty=1.0)
    settings = DraftSettings(max_draft_size=args.draft_size, p_min=0.0, auto=False)
    series = {name: Series() for name in contenders}
    mismatches: list[str] = []
    for _ in range(args.repeats):
        for prompt in PROMPTS:
            texts = {}
            for name, draft in contenders.items():
                sample = generate(
                    main, draft, prompt, args.max_tokens, sampling, settings, SpeculationMemory()
                )
                series[name].add(sample)
                texts[name] = sample.text
            mismatches += [f"{n}: {prompt!r}" for n, t in texts.items() if t != texts["plain"]]
    report: dict[str, object] = {name: s.summary() for name, s in series.items()}
    plain, exact_tok_s = series["plain"].tok_s, series["exact_q4"].tok_s
    report["ratios"] = {
        name: {
            "vs_plain": round(series[name].tok_s / plain, 3) if plain else None,
            "vs_exact_q4": round(series[name].tok_s / exact_tok_s, 3) if exact_tok_s else None,
        }
        for name in ("exact_q4", "translated_map", "translated_text")
    }
    report["text_equals_plain"] = not mismatches
    report["setup"] = {
        "main": main_path.name,
        "max_tokens": args.max_tokens,
        "draft_size": args.draft_size,
        "prompts": len(PROMPTS),
        "repeats": args.repeats,
    }
    for model in (main, exact, permuted):
        model.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name in contenders:
            print(f"{name:16s} {report[name]}")
        print("ratios", report["ratios"])
        print("text equals plain:", report["text_equals_plain"], *mismatches)
    return 0 if not mismatches else 1


if __name__ == "__main__":
    raise SystemExit(main())

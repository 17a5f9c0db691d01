"""Our numpy sampler against llama.cpp's sampler chain, on real Gemma logits (262k tokens).

Speculative sampling needs the whole distribution, not only a draw. Timed per call:
- numpy: TokenSampler.distribution + a draw (what every draft and verify row costs us);
- llama.cpp chain: llama_sampler_sample (the draw only, as plain decoding used it);
- llama.cpp chain, distribution: the chain applied to a token array we fill from the logits
  (what using llama.cpp's samplers for speculative sampling would cost).
Greedy (temperature 0) is timed too.

    python bench/sampler_timing.py [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import llama_cpp as ll

from app.core.request import SamplingSettings
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.sampling import TokenSampler
from tests.engines.llama_chain import ChainDistribution, free_chain, llama_chain
from tests.model_factory import gemma_q4

PROMPTS = ("The history of the printing press begins", "def quicksort(items):\n", "Ten fruits:\n1. Apple\n2.")


def _per_call(fn: Callable[[], object], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def _time_one(
    model: LlamaCppModel,
    settings: SamplingSettings,
    ours: TokenSampler,
    table: ChainDistribution,
    toks: list[int],
    reps: int,
) -> dict[str, float]:
    logits = model.logits(0)
    window = ours.window(toks)
    out = {"numpy": _per_call(lambda: ours.sample(ours.distribution(logits, window)), reps)}
    chain = llama_chain(settings, model.n_vocab, toks)
    try:
        ctx = model._ctx
        out["llama_chain_draw"] = _per_call(lambda: ll.llama_sampler_sample(chain, ctx, -1), reps)
    finally:
        free_chain(chain)
    partial = llama_chain(settings, model.n_vocab, toks, final=False)
    try:
        out["llama_chain_distribution"] = _per_call(lambda: table(partial, logits), reps)
    finally:
        free_chain(partial)
    return out


def sampler_timing(threads: int = 1, reps: int = 60) -> dict[str, object]:
    model = LlamaCppModel(gemma_q4(), LoadOptions(n_ctx=256, n_threads=threads))
    out: dict[str, dict[str, list[float]]] = {}
    try:
        for label, settings in (
            ("defaults_t0.8", SamplingSettings()),
            ("greedy", SamplingSettings(temperature=0.0)),
        ):
            rows: dict[str, list[float]] = {
                "numpy": [],
                "llama_chain_draw": [],
                "llama_chain_distribution": [],
            }

            ours = TokenSampler(settings)
            table = ChainDistribution(model.n_vocab)
            for prompt in PROMPTS:
                toks = model.tokenize(prompt)
                model.prefill(toks)
                for name, seconds in _time_one(model, settings, ours, table, toks, reps).items():
                    rows[name].append(seconds)
            out[label] = rows
    finally:
        model.close()
    return {
        "microseconds_per_call": {
            label: {k: round(statistics.median(v), 1) for k, v in rows.items()} for label, rows in out.items()
        },
        "vocabulary": 262144,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = sampler_timing()
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Plain vs speculative decoding, and our plain loop vs llama-cpp-python's, in one run.

Main model: an F16 twin of the bundled Gemma 3 270M. Drafts: its Q4_K_M (the real pair) and
the Q4_K_M cut to 2 layers (a poor draft). All files are derived into .test-models/.
Every configuration runs on the same prompts, interleaved, and the median of the repeats is
reported, so the ratios are comparable even on a noisy 2-core machine. Decode speed is
measured identically for every contender: tokens after the first, over the time after the
first token arrived (prompt reading excluded).

    python bench/speculative_bench.py [--max-tokens 128] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.advisor import measure_decode
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.model_factory import gemma_cut_down, gemma_f16_twin, gemma_q4

PROMPTS = {
    "code": "def quicksort(items):\n",
    "prose": "The history of the printing press begins",
    "list": "Ten fruits, one per line:\n1. Apple\n2.",
}
GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)


def decode_speed(n_tokens: int, t_first: float, t_end: float) -> float:
    return (n_tokens - 1) / (t_end - t_first) if n_tokens > 1 and t_end > t_first else 0.0


def run_ours(main: LlamaCppModel, draft: object | None, prompt: str, n: int, ds: DraftSettings) -> dict:
    if isinstance(draft, LlamaCppModel):
        draft.truncate(0)  # no prompt cache between repeats: every run reads its prompt
    req = GenerationRequest(prompt=prompt, max_tokens=n, sampling=GREEDY, draft=ds)
    timing = measure_decode(main, req, draft)
    assert timing.result is not None
    s = timing.result.stats
    return {
        "tok_s": timing.tokens_per_second,
        "tokens": timing.tokens,
        "accepted": s.accepted_draft_tokens_count,
        "drafted": s.total_draft_tokens_count,
        "sent": s.accepted_draft_tokens_count + s.rejected_draft_tokens_count,
        "verify_steps": s.verify_steps,
        "text": timing.result.text,
    }


def run_llama_cpp_python(llm: object, prompt: str, n: int) -> dict:
    llm.reset()  # type: ignore[attr-defined]
    t_first = None
    count = 0
    pieces = []
    stream = llm.create_completion(  # type: ignore[attr-defined]
        prompt, max_tokens=n, temperature=0.0, top_k=1, repeat_penalty=1.0, stream=True
    )
    for chunk in stream:
        if t_first is None:
            t_first = time.perf_counter()
        count += 1
        pieces.append(chunk["choices"][0]["text"])
    t_end = time.perf_counter()
    assert t_first is not None
    return {"tok_s": decode_speed(count, t_first, t_end), "tokens": count, "text": "".join(pieces)}


CODE_EDIT_PROMPT = """Rename the variable `total` to `subtotal` in this function and return the code.

def order_total(items, tax_rate):
    total = 0
    for item in items:
        total += item.price * item.quantity
    if total > 100:
        total = total * 0.95
    total = total * (1 + tax_rate)
    return round(total, 2)

Here is the function with `total` renamed to `subtotal`:

def order_total(items, tax_rate):
"""


def prompt_lookup_on_code_edit(max_tokens: int, repeats: int, opts: LoadOptions) -> dict:
    """The bundled model alone, plain vs prompt-lookup drafting, on a code-editing prompt."""
    from app.engines.drafting import PromptLookupDraft

    model = LlamaCppModel(gemma_q4(), opts)
    plain_s, lookup_s, accepted, drafted, same = [], [], 0, 0, True
    for _ in range(repeats):
        p = run_ours(model, None, CODE_EDIT_PROMPT, max_tokens, DraftSettings())
        q = run_ours(
            model,
            PromptLookupDraft(),
            CODE_EDIT_PROMPT,
            max_tokens,
            DraftSettings(max_draft_size=16, p_min=0.0),
        )
        plain_s.append(p["tok_s"])
        lookup_s.append(q["tok_s"])
        accepted += q["accepted"]
        drafted += q["drafted"]
        same = same and q["text"] == p["text"]
    model.close()
    return {
        "plain_tok_s": round(statistics.median(plain_s), 2),
        "prompt_lookup_tok_s": round(statistics.median(lookup_s), 2),
        "speedup": round(statistics.median(lookup_s) / statistics.median(plain_s), 3),
        "acceptance": round(accepted / drafted, 3) if drafted else 0.0,
        "text_equals_plain": same,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--draft-max", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import os

    from llama_cpp import Llama

    threads = args.threads or os.cpu_count() or 1
    opts = LoadOptions(n_ctx=1024, n_threads=threads)
    main_m = LlamaCppModel(gemma_f16_twin(), opts)
    real = LlamaCppModel(gemma_q4(), opts)
    poor = LlamaCppModel(gemma_cut_down(), opts)
    lcp = Llama(str(gemma_f16_twin()), n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False)

    dm = args.draft_max
    configs = {
        "plain": (None, DraftSettings()),
        "real_pair_cutoff_0.75": (real, DraftSettings(max_draft_size=dm, p_min=0.75)),
        "real_pair_fixed_2": (real, DraftSettings(max_draft_size=2, p_min=0.0)),
        "real_pair_fixed_4": (real, DraftSettings(max_draft_size=4, p_min=0.0)),
        "real_pair_fixed_8": (real, DraftSettings(max_draft_size=8, p_min=0.0)),
        "real_pair_fixed_16": (real, DraftSettings(max_draft_size=16, p_min=0.0)),
        "real_pair_auto": (real, DraftSettings(max_draft_size=16, p_min=0.0, auto=True)),
        "poor_draft_fixed": (poor, DraftSettings(max_draft_size=dm, p_min=0.75)),
        "poor_draft_auto": (poor, DraftSettings(max_draft_size=dm, p_min=0.75, auto=True)),
    }
    samples: dict[str, list[dict]] = {name: [] for name in [*configs, "llama_cpp_python_plain"]}
    for _ in range(args.repeats):
        for prompt in PROMPTS.values():
            for name, (draft, ds) in configs.items():
                samples[name].append(run_ours(main_m, draft, prompt, args.max_tokens, ds))
            samples["llama_cpp_python_plain"].append(run_llama_cpp_python(lcp, prompt, args.max_tokens))

    def summary(name: str) -> dict:
        rows = samples[name]
        out: dict[str, float | int] = {
            "tok_s": round(statistics.median(r["tok_s"] for r in rows), 2),
        }
        if "sent" in rows[0]:
            sent = sum(r["sent"] for r in rows)
            acc = sum(r["accepted"] for r in rows)
            out["acceptance"] = round(acc / sent, 3) if sent else 0.0
            out["drafted_per_token"] = round(
                sum(r["drafted"] for r in rows) / sum(r["tokens"] for r in rows), 3
            )
            out["tokens_per_verify_step"] = round(
                sum(r["tokens"] for r in rows) / max(1, sum(r["verify_steps"] for r in rows)), 3
            )
        return out

    report = {name: summary(name) for name in samples}
    plain = report["plain"]["tok_s"]
    for name in configs:
        if name != "plain":
            report[name]["speedup_vs_plain"] = round(report[name]["tok_s"] / plain, 3)
    report["ours_plain_vs_llama_cpp_python"] = round(plain / report["llama_cpp_python_plain"]["tok_s"], 3)
    texts_equal = all(
        samples[name][i]["text"] == samples["plain"][i]["text"]
        for name in configs
        for i in range(len(samples["plain"]))
    )
    report["speculative_text_equals_plain"] = texts_equal
    fixed = [k for k in configs if k.startswith("real_pair_fixed_")]
    best_fixed = max(fixed, key=lambda k: report[k]["tok_s"])
    report["auto_vs_best_fixed"] = {
        "best_fixed": best_fixed,
        "ratio": round(report["real_pair_auto"]["tok_s"] / report[best_fixed]["tok_s"], 3),
    }
    report["poor_draft_auto_vs_plain"] = report["poor_draft_auto"]["speedup_vs_plain"]
    report["prompt_lookup_code_edit"] = prompt_lookup_on_code_edit(args.max_tokens, args.repeats, opts)
    report["setup"] = {
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "prompts": list(PROMPTS),
        "draft_max": args.draft_max,
        "threads": threads,
        "main": "gemma-3-270m F16 twin",
        "drafts": {"real": "gemma-3-270m Q4_K_M", "poor": "Q4_K_M cut to 2 layers"},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    for m in (main_m, real, poor):
        m.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

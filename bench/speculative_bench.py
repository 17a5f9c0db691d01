"""Speculative decoding, measured: where drafting pays, where it cannot, and against theory
and llama.cpp's own loop. One command, one run, ratios (see README, "Benchmarks").

Models (derived at run time into SPECULA_TEST_MODELS, never committed): the bundled Gemma 3
270M Q4_K_M; its F16 twin; the **deeper twin** (the F16 twin plus 36 layers that add
nothing: the same function at ~1.75x the cost); the Q4_K_M cut to 2 layers (a useless draft).

- deeper_pair: deeper twin (main) + Q4_K_M (draft) at the app's default sampler settings
  (temperature 0.8): plain, fixed draft sizes at cutoff 0, the LM Studio default cutoff
  0.75, and Auto (after one learning reply, whose speed is reported as cold);
- deeper_pair_greedy: the same at temperature 0, text compared with plain;
- useless_draft: the deeper twin with the 2-layer cut: fixed and Auto (the slow contenders
  in the first repeat only; Auto and plain three times `--repeats`);
- real_pair: F16 twin + Q4_K_M (nothing can pay much: the draft costs ~0.85 of the main);
- theory: per-token acceptance, measured sum_x min(p, q), the cost ratio of a draft step and
  of verify batches, and Leviathan et al.'s bound for each configuration;
- llama_cpp_loop: llama.cpp's llama-speculative-simple (built from the llama.cpp inside the
  installed llama-cpp-python's sdist; skipped with a message without a compiler) against our
  loop, same pair, greedy, draft size 8, cutoff 0;
- fast_pair: a pair whose decode step takes about as long as a GPU's (bench/fast_pair.py: the
  real Gemma 3 vocabulary, a tiny body, the draft a copy): our loop against
  llama-speculative-simple at draft size 8, greedy without a repeat penalty (argmax, as
  llama.cpp's examples at their defaults), and our plain loop against llama.cpp's plain loop;
  the loop's own time (outside llama.cpp's decode) per verify step and per drafted token;
- mlx_pair: the MLX engine on a tiny MLX pair (bench/mlx_pair.py: a step as short as a GPU's,
  the draft the same weights): our loop against mlx-lm's speculative_generate_step at draft
  size 8, greedy without repeat penalty (argmax, as mlx-lm), and our plain loop against
  mlx-lm's generate_step (the same tokens: checked), as decode rates (GenerationStats's
  measure) and end to end (bench/mlx_pair.py says why both), and as the median ratio of each
  reply to mlx-lm's reply run right after it (less moved by a machine whose load drifts); and
  against mlx-lm's `stream_generate` (the same loops, detokenizing as they go, as ours streams
  text), paired; the loop's own CPU time (outside the models' calls) per verify step and per
  drafted token; eight times `--repeats` (its replies are short);
- overhead: the share of each reply's decode wall time spent outside llama.cpp's decode;
- sampler: our numpy sampler against llama.cpp's chain (bench/sampler_timing.py);
- code_edit: plain vs prompt lookup vs the draft model vs both chained, on a code edit;
- plain_vs_llama_cpp_python: our plain loop against llama-cpp-python's create_completion.

Every configuration runs on the same prompts, interleaved; medians of the replies.

    python bench/speculative_bench.py [--json] [--lengths 64,160] [--repeats 1] [--threads N]
        [--sections deeper_pair,useless_draft,...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import DraftSource, ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.lookup_draft import ChainedDraft, PromptLookupDraft
from app.engines.speculation_memory import SpeculationMemory
from bench.bench_support import Series, decode_clock, generate, leviathan_bound, paired_ratios, verify_cost
from bench.fast_pair import fast_pair
from bench.llama_cpp_reference import plain_loop_binary, reference_binary, run_plain_reference, run_reference
from bench.mlx_pair import mlx_eval_clock, mlx_lm_stream_tok_s, mlx_lm_tok_s, mlx_pair
from bench.sampler_timing import sampler_timing
from tests.model_factory import gemma_cut_down, gemma_deeper_twin, gemma_f16_twin, gemma_q4

PROMPTS = {
    "code": "def quicksort(items):\n",
    "prose": "The history of the printing press begins",
    "list": "Ten fruits, one per line:\n1. Apple\n2.",
}
DEFAULTS = SamplingSettings()  # the app's: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalty 1.1
GREEDY = SamplingSettings(temperature=0.0)
PURE_GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)  # argmax alone, as mlx-lm's greedy
FIXED = (2, 4, 8, 16)
SECTIONS = (
    "deeper_pair",
    "deeper_pair_greedy",
    "useless_draft",
    "real_pair",
    "llama_cpp_loop",
    "fast_pair",
    "mlx_pair",
    "overhead",
    "sampler",
    "code_edit",
    "plain_vs_llama_cpp_python",
)
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


def fixed(k: int, p_min: float = 0.0) -> DraftSettings:
    return DraftSettings(max_draft_size=k, p_min=p_min, auto=False)


USELESS_REPEATS = 3  # the useless draft's section: Auto and plain, times --repeats
# the MLX pair's replies take a tenth of a second: a burst of other work on the machine moves a
# whole repeat, and --repeats 4 read 0.93x and 1.00x in two runs a minute apart; eight times
# the repeats still take about two minutes
MLX_REPEATS = 8
AUTO = DraftSettings(max_draft_size=16, auto=True)  # the app's defaults, Auto on
CUTOFF = DraftSettings(max_draft_size=16, p_min=0.75, auto=False)  # LM Studio's defaults


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lengths = [int(x) for x in args.lengths.split(",")]
        self.threads = args.threads or os.cpu_count() or 1
        self.opts = LoadOptions(n_ctx=1024, n_threads=self.threads)
        self._models: dict[str, LlamaCppModel] = {}
        self.memory_dir = Path(tempfile.mkdtemp(prefix="specula-bench-memory-"))
        self.memory = SpeculationMemory(self.memory_dir / "speculation.json")
        self.report: dict[str, Any] = {}

    def model(self, key: str) -> LlamaCppModel:
        if key not in self._models:
            makers = {"deep": gemma_deeper_twin, "f16": gemma_f16_twin, "q4": gemma_q4, "cut": gemma_cut_down}
            path = makers[key]()
            self._models[key] = LlamaCppModel(path, self.opts)
        return self._models[key]

    def close(self) -> None:
        for m in self._models.values():
            m.close()

    # --- running configurations --------------------------------------------------------------
    def run(
        self,
        main: str,
        configs: dict[str, tuple[DraftSource | None, SamplingSettings, DraftSettings]],
        once: frozenset[str] = frozenset(),
        repeats: int | None = None,
    ) -> dict[int, dict[str, Series]]:
        """Every configuration at every length on every prompt, interleaved; Auto
        configurations first get one learning reply (reported as `auto_cold`). Those in
        `once` run in the first repeat only: a contender many times slower than the rest
        would otherwise take most of the section's time from the pairs its figure rests on."""
        m = self.model(main)
        out: dict[int, dict[str, Series]] = {n: {name: Series() for name in configs} for n in self.lengths}
        for name, (draft, sampling, settings) in configs.items():
            if settings.auto:
                for n in self.lengths:
                    cold = generate(m, draft, PROMPTS["prose"], n, sampling, settings, self.memory)
                    out[n].setdefault(f"{name}_cold", Series()).add(cold)
                    break
        for rep in range(repeats or self.args.repeats):
            for prompt in PROMPTS.values():
                for n in self.lengths:
                    for name, (draft, sampling, settings) in configs.items():
                        if rep == 0 or name not in once:
                            out[n][name].add(generate(m, draft, prompt, n, sampling, settings, self.memory))
        return out

    @staticmethod
    def summarise(results: dict[int, dict[str, Series]], plain: str = "plain") -> dict[str, Any]:
        report: dict[str, Any] = {}
        for n, series in results.items():
            rows = {name: s.summary() for name, s in series.items()}
            base = series[plain].tok_s if plain in series else None
            if base:
                for name, s in series.items():
                    rows[name]["speedup_vs_plain"] = round(s.tok_s / base, 3)
                    if name != plain and not name.endswith("_cold"):
                        paired = statistics.median(paired_ratios(s, series[plain]))
                        rows[name]["paired_vs_plain"] = round(paired, 3)
            report[f"{n}_tokens"] = rows
        return report

    # --- sections -------------------------------------------------------------------------------
    def deeper_pair(self) -> None:
        q4 = ModelDraft(self.model("q4"))
        configs: dict[str, tuple[DraftSource | None, SamplingSettings, DraftSettings]] = {
            "plain": (None, DEFAULTS, DraftSettings()),
            **{f"fixed_{k}": (q4, DEFAULTS, fixed(k)) for k in FIXED},
            "cutoff_0.75": (q4, DEFAULTS, CUTOFF),
            "auto": (q4, DEFAULTS, AUTO),
        }
        results = self.run("deep", configs)
        report = self.summarise(results)
        self._auto_vs_best_fixed(report, results, [f"fixed_{k}" for k in FIXED])
        self.report["deeper_pair"] = report
        self._deeper_results = results

    def _auto_vs_best_fixed(
        self, report: dict[str, Any], results: dict[int, dict[str, Series]], fixed_names: list[str]
    ) -> None:
        """Auto against the best fixed size two ways: the ratio of medians (each over all
        prompts and repeats), and paired reply by reply, the median of Auto's speed over the
        fixed size's reply run just before it (same prompt, same length, the same minute of a
        machine whose speed drifts). Paired, the best fixed size is the one Auto trails most."""
        for n in self.lengths:
            rows = report[f"{n}_tokens"]
            best = max(fixed_names, key=lambda name: rows[name]["tok_s"])
            ratio = round(rows["auto"]["tok_s"] / rows[best]["tok_s"], 3)
            pairs = {name: paired_ratios(results[n]["auto"], results[n][name]) for name in fixed_names}
            trailed = min(fixed_names, key=lambda name: statistics.median(pairs[name]))
            rows["auto_vs_best_fixed"] = {
                "best_fixed": best,
                "ratio": ratio,
                "paired_best_fixed": trailed,
                "paired_ratio": round(statistics.median(pairs[trailed]), 3),
                "paired_auto_ahead": f"{sum(r > 1 for r in pairs[trailed])} of {len(pairs[trailed])}",
            }

    def deeper_pair_greedy(self) -> None:
        q4 = ModelDraft(self.model("q4"))
        configs: dict[str, tuple[DraftSource | None, SamplingSettings, DraftSettings]] = {
            "plain": (None, GREEDY, DraftSettings()),
            "fixed_8": (q4, GREEDY, fixed(8)),
            "fixed_16": (q4, GREEDY, fixed(16)),
            "auto": (q4, GREEDY, AUTO),
        }
        results = self.run("deep", configs)
        report = self.summarise(results)
        report["text_equals_plain"] = all(
            s.text == p.text
            for series in results.values()
            for name in ("fixed_8", "fixed_16", "auto")
            for s, p in zip(series[name].samples, series["plain"].samples, strict=True)
        )
        self._auto_vs_best_fixed(report, results, ["fixed_8", "fixed_16"])
        self.report["deeper_pair_greedy"] = report
        self._greedy_results = results

    def useless_draft(self) -> None:
        cut = ModelDraft(self.model("cut"))
        configs: dict[str, tuple[DraftSource | None, SamplingSettings, DraftSettings]] = {
            "plain": (None, DEFAULTS, DraftSettings()),
            "fixed_8": (cut, DEFAULTS, fixed(8)),
            "cutoff_0.75": (cut, DEFAULTS, CUTOFF),
            "auto": (cut, DEFAULTS, AUTO),
        }
        # fixed 8 and the cutoff run at 0.2x and 0.45x of plain: measured in the first repeat
        # only, which leaves time for three times the pairs of Auto and plain (the figure
        # the target is on; a reply's speed swings by 7% here, two replies apart or not)
        slow = frozenset({"fixed_8", "cutoff_0.75"})
        results = self.run("deep", configs, once=slow, repeats=USELESS_REPEATS * self.args.repeats)
        self.report["useless_draft"] = self.summarise(results)

    def real_pair(self) -> None:
        q4 = ModelDraft(self.model("q4"))
        configs: dict[str, tuple[DraftSource | None, SamplingSettings, DraftSettings]] = {
            "plain": (None, DEFAULTS, DraftSettings()),
            "fixed_4": (q4, DEFAULTS, fixed(4)),
            "fixed_8": (q4, DEFAULTS, fixed(8)),
            "auto": (q4, DEFAULTS, AUTO),
        }
        lengths, self.lengths = self.lengths, self.lengths[:1]
        try:
            self.report["real_pair"] = self.summarise(self.run("f16", configs))
        finally:
            self.lengths = lengths

    def theory(self) -> None:
        """Leviathan's bound for each configuration of the deeper pair, from its measured
        per-token acceptance, the cost of a draft step (the draft's plain speed against the
        main model's) and, in a second bound, the measured cost of a verify batch."""
        if not hasattr(self, "_deeper_results"):
            return
        deep, q4 = self.model("deep"), self.model("q4")
        n0 = self.lengths[0]
        plain = self._deeper_results[n0]["plain"].tok_s
        alone = Series()
        for prompt in PROMPTS.values():
            alone.add(generate(q4, None, prompt, n0, DEFAULTS, DraftSettings(), self.memory))
        c = plain / alone.tok_s
        rows = [k + 1 for k in range(17)]
        tokens = deep.tokenize(PROMPTS["prose"])
        costs = verify_cost(deep, tokens, rows)
        v = {n - 1: costs[n] / costs[1] for n in rows}
        out: dict[str, Any] = {
            "draft_step_cost_ratio": round(c, 3),
            "verify_cost_ratio_by_draft_size": {k: round(v[k], 3) for k in (1, 2, 4, 8, 16)},
        }
        for n, series in self._deeper_results.items():
            fx = series["fixed_8"].summary()
            alpha = fx.get("acceptance_per_examined_token") or 0.0
            rows_out: dict[str, Any] = {
                "alpha_per_token": alpha,
                "mean_sum_min_p_q": fx.get("mean_sum_min_p_q"),
                "acceptance_minus_sum_min": round(alpha - (fx.get("mean_sum_min_p_q") or 0.0), 3),
            }
            for k in FIXED:
                name = f"fixed_{k}"
                achieved = series[name].tok_s / plain if plain else 0.0
                b1 = leviathan_bound(alpha, k, c)
                b2 = leviathan_bound(alpha, k, c, v[k])
                rows_out[name] = {
                    "speedup": round(achieved, 3),
                    "leviathan_bound": round(b1, 3),
                    "bound_with_measured_verify_cost": round(b2, 3),
                    "achieved_of_bound": round(achieved / b2, 3) if b2 else None,
                }
            best_k = max(range(1, 17), key=lambda k: leviathan_bound(alpha, k, c, v[k]))
            best = leviathan_bound(alpha, best_k, c, v[best_k])
            auto = series["auto"].tok_s / plain if plain else 0.0
            rows_out["auto"] = {
                "speedup": round(auto, 3),
                "best_bound_with_measured_verify_cost": round(best, 3),
                "at_draft_size": best_k,
                "achieved_of_bound": round(auto / best, 3),
            }
            out[f"{n}_tokens"] = rows_out
        self.report["theory"] = out

    def llama_cpp_loop(self) -> None:
        binary, why = reference_binary()
        if binary is None:
            self.report["llama_cpp_loop"] = {"skipped": why}
            return
        deep, q4 = self.model("deep"), self.model("q4")
        ours = Series()
        n = self.lengths[-1]
        accepted = drafted = 0
        t_tok = t_time = 0.0
        for _ in range(self.args.repeats):
            for prompt in PROMPTS.values():
                r = run_reference(binary, deep.path, q4.path, prompt, n, 8, self.threads)
                t_tok += r.tokens
                t_time += r.seconds
                accepted += r.accepted
                drafted += r.drafted
                ours.add(generate(deep, ModelDraft(q4), prompt, n, GREEDY, fixed(8), self.memory))
        mine = ours.summary()
        self.report["llama_cpp_loop"] = {
            "binary": binary.name,
            "llama_cpp_tok_s": round(t_tok / t_time, 2),
            "llama_cpp_acceptance": round(accepted / drafted, 3) if drafted else None,
            "ours_tok_s": mine["tok_s"],
            "ours_acceptance": mine.get("acceptance"),
            "ours_vs_llama_cpp": round(float(mine["tok_s"] or 0) / (t_tok / t_time), 3),
            "settings": {"temperature": 0, "draft_max": 8, "draft_min": 0, "p_min": 0, "tokens": n},
        }

    def fast_pair(self) -> None:
        """The loop's own costs where a decode step is as short as a GPU's: ours and llama.cpp's
        loops interleaved, prompt by prompt."""
        main_path, draft_path = fast_pair()
        threads = self.args.fast_threads  # one: a GPU-short step, not threads waiting on each other
        opts = LoadOptions(n_ctx=1024, n_threads=threads)
        main, draft = LlamaCppModel(main_path, opts), LlamaCppModel(draft_path, opts)
        n, k = self.lengths[-1], 8
        out: dict[str, Any] = {"draft_size": k, "tokens": n, "threads": threads}
        spec_binary, why = reference_binary()
        plain_binary, why_plain = plain_loop_binary(spec_binary) if spec_binary else (None, why)
        theirs: dict[str, list[float]] = {"spec": [], "plain": []}
        ours = {"spec": Series(), "plain": Series()}
        loop = {"spec": [0.0, 0, 0], "plain": [0.0, 0, 0]}  # CPU seconds outside decode, steps, drafted
        try:
            for prompt in PROMPTS.values():
                generate(
                    main, ModelDraft(draft), prompt, 12, PURE_GREEDY, fixed(k), self.memory
                )  # batch sizes
            for _ in range(self.args.repeats):
                for prompt in PROMPTS.values():
                    for name, src in (("spec", ModelDraft(draft)), ("plain", None)):
                        with decode_clock() as spent:
                            s = generate(main, src, prompt, n, PURE_GREEDY, fixed(k), self.memory, spent)
                        ours[name].add(s)
                        acc = loop[name]
                        acc[0] += s.decode_cpu - s.in_llama_decode_cpu  # waits for the CPU excluded
                        acc[1] += s.verify_steps
                        acc[2] += s.drafted
                    if spec_binary is not None:
                        r = run_reference(spec_binary, main_path, draft_path, prompt, n, k, threads)
                        theirs["spec"].append(r.tokens_per_second)
                    if plain_binary is not None:
                        theirs["plain"].append(
                            run_plain_reference(plain_binary, main_path, prompt, n, threads).tokens_per_second
                        )
        finally:
            main.close()
            draft.close()
        plain_us = 1e6 * loop["plain"][0] / max(1, loop["plain"][1])
        drafted = loop["spec"][2]
        out.update(
            ours_tok_s=round(ours["spec"].tok_s, 1),
            ours_plain_tok_s=round(ours["plain"].tok_s, 1),
            ours_acceptance=ours["spec"].summary().get("acceptance"),
            loop_us_per_verify_step=round(1e6 * loop["spec"][0] / max(1, loop["spec"][1]), 1),
            loop_us_per_plain_step=round(plain_us, 1),
            loop_us_per_drafted_token=(
                round((1e6 * loop["spec"][0] - plain_us * loop["spec"][1]) / drafted, 1) if drafted else None
            ),
        )
        if theirs["spec"]:
            out["llama_speculative_simple_tok_s"] = round(statistics.median(theirs["spec"]), 1)
            out["ours_vs_llama_speculative_simple"] = round(
                ours["spec"].tok_s / statistics.median(theirs["spec"]), 3
            )
        else:
            out["llama_speculative_simple"] = {"skipped": why}
        if theirs["plain"]:
            out["llama_cpp_plain_tok_s"] = round(statistics.median(theirs["plain"]), 1)
            out["ours_plain_vs_llama_cpp_plain"] = round(
                ours["plain"].tok_s / statistics.median(theirs["plain"]), 3
            )
        else:
            out["llama_cpp_plain"] = {"skipped": why_plain}
        self.report["fast_pair"] = out

    def mlx_pair(self) -> None:
        """Our loop driving MLX against mlx-lm's own loops, interleaved prompt by prompt
        (medians over prompts and repeats)."""
        from app.engines.mlx import MLXModel, mlx_available

        if not mlx_available():
            self.report["mlx_pair"] = {"skipped": "mlx and mlx-lm are not installed"}
            return
        main_path, draft_path = mlx_pair()
        main, draft = MLXModel(main_path), MLXModel(draft_path)
        n, k = self.lengths[-1], 8
        import mlx_lm

        their_main, their_tokenizer = mlx_lm.load(str(main_path))[:2]
        their_draft = mlx_lm.load(str(draft_path))[0]
        out: dict[str, Any] = {"draft_size": k, "tokens": n}
        ours = {"spec": Series(), "plain": Series()}
        theirs: dict[str, list[float]] = {"spec": [], "plain": []}
        end_to_end: dict[str, list[float]] = {"spec": [], "plain": [], "mlx_lm_spec": [], "mlx_lm_plain": []}
        paired: dict[str, list[float]] = {"spec": [], "plain": []}  # each reply against its neighbour
        paired_whole: dict[str, list[float]] = {"spec": [], "plain": []}  # the same, end to end
        streamed: dict[str, list[float]] = {"spec": [], "plain": []}  # ours over stream_generate's, paired
        streamed_whole: dict[str, list[float]] = {"spec": [], "plain": []}
        mismatches: list[dict[str, Any]] = []
        same_count: list[bool] = []  # stream_generate's tokens, as many as ours
        loop = {"spec": [0.0, 0, 0], "plain": [0.0, 0, 0]}  # CPU seconds outside eval, steps, drafted
        for prompt in PROMPTS.values():  # warm both loops up
            generate(main, ModelDraft(draft), prompt, 12, PURE_GREEDY, fixed(k), self.memory)
            mlx_lm_tok_s(their_main, their_draft, main.tokenize(prompt), 12, k, main.is_eog)  # warm-up
        for _ in range(MLX_REPEATS * self.args.repeats):
            for prompt in PROMPTS.values():
                tokens = main.prompt_tokens(
                    GenerationRequest(prompt=prompt, max_tokens=n, sampling=PURE_GREEDY)
                )
                for name, src in (("spec", ModelDraft(draft)), ("plain", None)):
                    t_start = time.perf_counter()
                    with mlx_eval_clock(MLXModel) as spent:
                        s = generate(main, src, prompt, n, PURE_GREEDY, fixed(k), self.memory, spent)
                    end_to_end[name].append(s.tokens / (time.perf_counter() - t_start))
                    ours[name].add(s)
                    acc = loop[name]
                    acc[0] += s.decode_cpu - s.in_llama_decode_cpu  # waits for the CPU excluded
                    acc[1] += s.verify_steps
                    acc[2] += s.drafted
                    their_draft_now = their_draft if src is not None else None
                    rate, whole, ids = mlx_lm_tok_s(their_main, their_draft_now, tokens, n, k, main.is_eog)
                    theirs[name].append(rate)
                    paired[name].append(s.tok_s / rate)
                    end_to_end[f"mlx_lm_{name}"].append(whole)
                    paired_whole[name].append(end_to_end[name][-1] / whole)
                    their_text = b"".join(main.piece(t) for t in ids).decode("utf-8", "replace")
                    if their_text != s.text:  # where, to tell a tie on the device from a bug
                        at = next(
                            (i for i, (a, b) in enumerate(zip(their_text, s.text, strict=False)) if a != b),
                            min(len(their_text), len(s.text)),
                        )
                        chars = [len(s.text), len(their_text)]
                        mismatches.append({"prompt": prompt[:24], "loop": name, "chars": chars, "at": at})
                    rate, whole_streamed, count = mlx_lm_stream_tok_s(
                        their_main, their_tokenizer, their_draft_now, tokens, n, k
                    )
                    streamed[name].append(s.tok_s / rate)
                    streamed_whole[name].append(end_to_end[name][-1] / whole_streamed)
                    same_count.append(count == s.tokens)
        plain_us = 1e6 * loop["plain"][0] / max(1, loop["plain"][1])
        drafted = loop["spec"][2]
        spec_theirs, plain_theirs = statistics.median(theirs["spec"]), statistics.median(theirs["plain"])
        whole = {name: statistics.median(rates) for name, rates in end_to_end.items()}
        out.update(
            ours_tok_s=round(ours["spec"].tok_s, 1),
            mlx_lm_speculative_tok_s=round(spec_theirs, 1),
            ours_vs_mlx_lm_speculative=round(ours["spec"].tok_s / spec_theirs, 3),
            ours_plain_tok_s=round(ours["plain"].tok_s, 1),
            mlx_lm_plain_tok_s=round(plain_theirs, 1),
            ours_plain_vs_mlx_lm_plain=round(ours["plain"].tok_s / plain_theirs, 3),
            end_to_end_tok_s={name: round(rate, 1) for name, rate in whole.items()},
            end_to_end_ours_vs_mlx_lm_speculative=round(whole["spec"] / whole["mlx_lm_spec"], 3),
            end_to_end_ours_plain_vs_mlx_lm_plain=round(whole["plain"] / whole["mlx_lm_plain"], 3),
            paired_ours_vs_mlx_lm_speculative=round(statistics.median(paired["spec"]), 3),
            paired_ours_plain_vs_mlx_lm_plain=round(statistics.median(paired["plain"]), 3),
            # the like-for-like figure: the same reply's whole time, each against its neighbour
            end_to_end_paired_ours_vs_mlx_lm_speculative=round(statistics.median(paired_whole["spec"]), 3),
            end_to_end_paired_ours_plain_vs_mlx_lm_plain=round(statistics.median(paired_whole["plain"]), 3),
            text_equals_mlx_lm=not mismatches,
            text_mismatches=mismatches,
            # like with like for an app: mlx-lm's stream_generate detokenizes as it goes, as ours
            paired_ours_vs_mlx_lm_stream_generate={
                name: round(statistics.median(r), 3) for name, r in streamed.items()
            },
            end_to_end_paired_ours_vs_mlx_lm_stream_generate={
                name: round(statistics.median(r), 3) for name, r in streamed_whole.items()
            },
            stream_generate_same_token_count=all(same_count),
            ours_acceptance=ours["spec"].summary().get("acceptance"),
            ours_tokens_per_verify_step=ours["spec"].summary().get("tokens_per_verify_step"),
            loop_us_per_verify_step=round(1e6 * loop["spec"][0] / max(1, loop["spec"][1]), 1),
            loop_us_per_plain_step=round(plain_us, 1),
            loop_us_per_drafted_token=(
                round((1e6 * loop["spec"][0] - plain_us * loop["spec"][1]) / drafted, 1) if drafted else None
            ),
        )
        self.report["mlx_pair"] = out

    def overhead(self) -> None:
        """Share of decode wall time (after the first token) outside llama.cpp's decode, with
        a fixed draft size of 8 at cutoff 0: sampling, drafting logic, streaming, Python."""
        deep, q4 = self.model("deep"), ModelDraft(self.model("q4"))
        out: dict[str, Any] = {}
        for label, sampling in (("temperature_0.8", DEFAULTS), ("greedy", GREEDY)):
            shares = []
            for prompt in PROMPTS.values():
                generate(deep, q4, prompt, 12, sampling, fixed(8), self.memory)  # set up batch sizes
                with decode_clock() as spent:
                    s = generate(deep, q4, prompt, self.lengths[0], sampling, fixed(8), self.memory, spent)
                shares.append(1 - s.in_llama_decode / s.decode_wall)
            out[label] = {"share_outside_llama_decode": round(statistics.median(shares), 4)}
        self.report["overhead"] = out

    def sampler(self) -> None:
        self.report["sampler"] = sampler_timing(threads=1)

    def code_edit(self) -> None:
        deep, q4 = self.model("deep"), ModelDraft(self.model("q4"))
        configs: dict[str, tuple[DraftSource | None, DraftSettings]] = {
            "plain": (None, DraftSettings()),
            "prompt_lookup": (PromptLookupDraft(), fixed(16)),
            "draft_model": (q4, fixed(8)),
            "chained": (ChainedDraft(q4), fixed(8)),
            "chained_auto": (ChainedDraft(q4), AUTO),
        }
        series = {name: Series() for name in configs}
        n = self.lengths[-1]
        generate(deep, configs["chained_auto"][0], CODE_EDIT_PROMPT, n, GREEDY, AUTO, self.memory)  # learn
        for _ in range(self.args.repeats):
            for name, (draft, settings) in configs.items():
                if isinstance(draft, PromptLookupDraft):
                    draft = PromptLookupDraft()
                series[name].add(generate(deep, draft, CODE_EDIT_PROMPT, n, GREEDY, settings, self.memory))
        base = series["plain"].tok_s
        self.report["code_edit"] = {
            name: {**s.summary(), "speedup_vs_plain": round(s.tok_s / base, 3)} for name, s in series.items()
        }
        self.report["code_edit"]["text_equals_plain"] = all(
            s.samples[i].text == series["plain"].samples[i].text
            for s in series.values()
            for i in range(len(s.samples))
        )

    def plain_vs_llama_cpp_python(self) -> None:
        from llama_cpp import Llama

        f16 = self.model("f16")
        threads = self.threads
        lcp = Llama(str(f16.path), n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False)
        ours, theirs = Series(), []
        n = self.lengths[0]
        for prompt in PROMPTS.values():
            ours.add(generate(f16, None, prompt, n, GREEDY, DraftSettings(), self.memory))
            lcp.reset()
            t_first, count = None, 0
            for _ in lcp.create_completion(prompt, max_tokens=n, temperature=0.0, top_k=1, stream=True):
                t_first = t_first or time.perf_counter()
                count += 1
            t_end = time.perf_counter()
            theirs.append((count - 1) / (t_end - t_first) if t_first and count > 1 else 0.0)
        self.report["plain_vs_llama_cpp_python"] = {
            "ours_tok_s": round(ours.tok_s, 2),
            "llama_cpp_python_tok_s": round(statistics.median(theirs), 2),
            "ratio": round(ours.tok_s / statistics.median(theirs), 3),
        }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lengths", default="64,160", help="reply lengths in tokens, comma-separated")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--fast-threads", type=int, default=1, help="threads for the fast pair (default 1)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated: " + ", ".join(SECTIONS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    wanted = [s for s in args.sections.split(",") if s]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections: {', '.join(sorted(unknown))}")
    bench = Bench(args)
    started = time.perf_counter()
    try:
        for section in SECTIONS:
            if section in wanted:
                getattr(bench, section)()
                if section == "deeper_pair":
                    bench.theory()
    finally:
        bench.close()
    bench.report["setup"] = {
        "lengths": bench.lengths,
        "repeats": args.repeats,
        "prompts": list(PROMPTS),
        "threads": bench.threads,
        "sampling": "app defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, repeat penalty 1.1",
        "main": "gemma-3-270m F16 twin + 36 zero-output layers (deeper twin); real pair: the F16 twin",
        "drafts": {"q4": "gemma-3-270m Q4_K_M", "cut": "Q4_K_M cut to 2 layers"},
        "seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(bench.report, indent=2))
    else:
        for key, value in bench.report.items():
            print(f"{key}: {json.dumps(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Auto's run-length rule replayed on real acceptances, against fixed draft sizes.

At temperature 0 everything a round does is decided by the text: at each position of the main
model's greedy reply, the draft's greedy continuation (and its confidences) and how many of its
tokens the main model accepts. This bench records that once for the deeper pair (the deeper
twin of Gemma 3 270M, its Q4_K_M as draft; 3 prompts), then replays policies on it with the
cost of each part of a round in plain steps (a draft step, a two-token catch-up, a verify batch
by its rows; defaults: the deeper pair's measured ratios on the quiet 2-core machine, from
speculative_bench.py's `theory`). Each policy's figure is tokens per plain step; the printout
is each against the best fixed size:

- fixed k: draft k tokens every round (no step for a token not sent);
- Auto's two decisions (app/engines/auto_draft.py: run the draft once more while
  P(accept 1..j) x a >= rate x (draft step + row); send a computed token while
  P(accept 1..j) >= rate x row) at several rates: 1 is plain decoding's speed, above it
  drafting's own (Dinkelbach's).

Acceptance per confidence bucket and the overall acceptance a are taken from the recording
itself (what Auto would learn). No clock is read while replaying.

    python bench/auto_replay.py [--json] [--tokens 64,160] [--draft-cost 0.51] [--recording FILE]

`--recording FILE`: the recording is read from FILE when it exists, else made and written
there (making it takes several minutes of two threads on the 2-core machine; replaying, none).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from app.core.request import DraftSettings, GenerationRequest
from app.engines.auto_draft import N_BUCKETS, bucket_of
from app.engines.drafting import push_window
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.sampling import TokenSampler
from bench.speculative_bench import GREEDY, PROMPTS  # the same prompts and sampler (penalty 1.1)
from tests.model_factory import gemma_deeper_twin, gemma_q4

LOOK = 16  # the draft's continuation recorded at each position (Max Draft Size)
# verify batch cost by rows, in plain steps (the deeper pair, quiet machine, two threads)
VERIFY = {1: 1.0, 2: 1.643, 3: 1.637, 5: 1.882, 9: 2.463, 17: 3.975}

Row = tuple[list[float], int]  # the draft's confidences, how many of its tokens are accepted
Policy = Callable[[list[float], int], tuple[int, bool]]  # -> tokens sent, a step spent on a refused one


def record(n: int) -> dict[str, list[Row]]:
    """At each position of the main model's greedy reply: the draft's continuation's
    confidences and its accepted length."""
    opts = LoadOptions(n_ctx=1024, n_threads=2)
    main, draft = LlamaCppModel(gemma_deeper_twin(), opts), LlamaCppModel(gemma_q4(), opts)
    sampler = TokenSampler(GREEDY)
    out: dict[str, list[Row]] = {}
    try:
        for name, prompt in PROMPTS.items():
            tokens = main.prompt_tokens(GenerationRequest(prompt=prompt, max_tokens=n, draft=DraftSettings()))
            main.truncate(0)
            main.eval(tokens, 1)
            reply: list[int] = []
            window = list(sampler.window(tokens))
            for _ in range(n + LOOK):
                t = sampler.sample(sampler.distribution(main.logits(0), window))
                reply.append(t)
                push_window(window, t, sampler.window_size)
                main.eval([t], 1)
            rows: list[Row] = []
            draft.truncate(0)
            draft.eval(tokens[:-1], 1)
            for pos in range(n):
                context = tokens + reply[:pos]
                draft.truncate(len(context) - 1)
                draft.eval([context[-1]], 1)
                w = list(sampler.window(context))
                confidences, proposed = [], []
                for _ in range(LOOK):
                    q = sampler.distribution(draft.logits(0), w, True)
                    t = sampler.sample(q)
                    confidences.append(q.confidence)
                    proposed.append(t)
                    push_window(w, t, sampler.window_size)
                    draft.eval([t], 1)
                match = 0
                while match < LOOK and proposed[match] == reply[pos + match]:
                    match += 1
                rows.append((confidences, match))
            out[name] = rows
    finally:
        main.close()
        draft.close()
    return out


def verify_cost(rows: int) -> float:
    xs = sorted(VERIFY)
    return float(np.interp(rows, xs, [VERIFY[x] for x in xs]))


def replay(data: dict[str, list[Row]], policy: Policy, n: int, draft_cost: float) -> float:
    """Tokens per plain step of `policy` over every prompt's first n tokens."""
    tokens = cost = 0.0
    for rows in data.values():
        pos, both = 1, False  # the first token comes from the prompt's step; both: a 2-token catch-up
        while pos < n:
            confidences, match = rows[pos]
            k, refused_step = policy(confidences, min(LOOK, n - pos - 1))
            if k == 0:
                cost, pos, both = cost + 1.0, pos + 1, False
                continue
            catch_up = draft_cost * (1.64 if both else 1.0)
            cost += catch_up + draft_cost * (k - 1 + refused_step) + verify_cost(k + 1)
            accepted = min(k, match)
            both = accepted == k and not refused_step
            pos += accepted + 1
        tokens += n - 1
    return tokens / cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tokens", default="64,160")
    parser.add_argument("--draft-cost", type=float, default=0.51, help="a draft step, in plain steps")
    parser.add_argument("--recording", type=Path, help="JSON file: read if it exists, else written")
    args = parser.parse_args()
    lengths = [int(x) for x in args.tokens.split(",")]
    if args.recording is not None and args.recording.exists():
        loaded = json.loads(args.recording.read_text())
        data = {name: [(list(c), int(m)) for c, m in rows] for name, rows in loaded.items()}
    else:
        data = record(max(lengths))
        if args.recording is not None:
            args.recording.write_text(json.dumps(data))
    sums = np.zeros((N_BUCKETS, 2))
    for rows in data.values():
        for confidences, match in rows:
            for j in range(min(match + 1, LOOK)):  # examined: the accepted ones and the first refused
                sums[bucket_of(confidences[j])] += (j < match, 1)
    acc = [s / c if c else 0.5 for s, c in sums]
    a = float(sums[:, 0].sum() / sums[:, 1].sum())
    slope = (verify_cost(17) - verify_cost(5)) / 12
    d = args.draft_cost

    def fixed(k: int) -> Policy:
        return lambda _confidences, budget: (min(k, budget), False)

    def auto(rate: float) -> Policy:
        def policy(confidences: list[float], budget: int) -> tuple[int, bool]:
            p = 1.0
            for j in range(budget):
                pj = p * acc[bucket_of(confidences[j])]
                if j > 0 and pj < rate * slope:
                    return j, True  # computed, not sent
                p = pj
                if j + 1 < budget and p * a < rate * (d + slope):
                    return j + 1, False
            return budget, False

        return policy

    report: dict[str, object] = {"overall_acceptance": round(a, 3), "draft_cost": d}
    for n in lengths:
        fixed_rates = {k: replay(data, fixed(k), n, d) for k in (2, 4, 8, 16)}
        best = max(fixed_rates.values())
        report[f"{n}_tokens"] = {
            "fixed_tokens_per_plain_step": {k: round(v, 3) for k, v in fixed_rates.items()},
            "auto_vs_best_fixed_by_rate": {
                r: round(replay(data, auto(r), n, d) / best, 3) for r in (1.0, 1.1, 1.25)
            },
        }
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

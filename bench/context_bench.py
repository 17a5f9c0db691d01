"""A chat longer than the context, measured: what each turn reads of its prompt, and its speed,
against the same chat in a context it fits (see README, "Conversations longer than the context").

The bundled Gemma 3 270M Q4_K_M (main) with its 2-layer cut as the draft (fixed draft size 4,
cutoff 0, greedy), a chat of `--turns` questions and replies at `--ctx` (1024) in each Context
Overflow policy that goes on, and the same chat at a context it fits (`--fits-ctx`). Per
turn: the prompt tokens the main model read before its first token (what the cache did not
hold: a turn after a truncation step re-reads what follows the dropped turns, unless the KV
cache shifts), the reply's tok/s, and the turns left out. Medians over the turns after the
first truncation (the fitting chat: over the same turns).

    python bench/context_bench.py [--json] [--turns 60] [--ctx 1024] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.context_overflow import ContextOverflow
from app.core.events import GenerationResult, TokenEvent
from app.core.request import ChatMessage, DraftSettings, GenerationRequest, Role, SamplingSettings
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from tests.model_factory import gemma_cut_down, gemma_q4

SYSTEM = ChatMessage(Role.SYSTEM, "You are a patient assistant who answers in a few sentences.")
TOPICS = ("rivers", "bridges", "clocks", "gardens", "ships", "bread", "stars", "trains", "paper", "bees")


def question(turn: int) -> ChatMessage:
    topic = TOPICS[turn % len(TOPICS)]
    return ChatMessage(
        Role.USER, f"Question {turn}: tell me something about {topic} that most people do not know."
    )


class CountingModel:
    """Counts the tokens the main model evaluates before a reply's first token."""

    def __init__(self, model: LlamaCppModel) -> None:
        self.model = model
        self.evaluated = 0
        self._eval = model.eval

        def counting(tokens: Sequence[int], n_logits: int = 1) -> None:
            self.evaluated += len(tokens)
            self._eval(tokens, n_logits)

        model.eval = counting  # type: ignore[method-assign]


def play(
    main: LlamaCppModel, draft: LlamaCppModel, policy: ContextOverflow, turns: int, max_tokens: int
) -> list[dict[str, Any]]:
    main.truncate(0)
    draft.truncate(0)
    counter = CountingModel(main)
    store = [SYSTEM]
    rows: list[dict[str, Any]] = []
    settings = DraftSettings(max_draft_size=4, p_min=0.0, auto=False)
    sampling = SamplingSettings(temperature=0.0, repeat_penalty=1.1)
    try:
        for turn in range(turns):
            store.append(question(turn))
            request = GenerationRequest(
                messages=tuple(store),
                max_tokens=max_tokens,
                sampling=sampling,
                draft=settings,
                context_overflow=policy,
            )
            counter.evaluated = 0
            read: int | None = None
            result: GenerationResult | None = None
            for item in main.generate(request, draft=ModelDraft(draft)):
                if isinstance(item, TokenEvent) and read is None:
                    read = counter.evaluated
                elif isinstance(item, GenerationResult):
                    result = item
            if result is None or result.error is not None:
                raise RuntimeError(f"turn {turn} failed: {result}")
            s = result.stats
            rows.append(
                {
                    "turn": turn,
                    "prompt_tokens": s.prompt_tokens_count,
                    "read": read if read is not None else counter.evaluated,
                    "tok_s": round(s.tokens_per_second, 1),
                    "truncated_turns": s.truncated_turns,
                    "stop": s.stop_reason.value,
                }
            )
            store.append(ChatMessage(Role.ASSISTANT, result.text))
    finally:
        del main.eval
    return rows


def summary(rows: list[dict[str, Any]], start: int) -> dict[str, Any]:
    after = rows[start:] or rows
    reads = [r["read"] for r in after]
    return {
        "turns_measured": len(after),
        "read_median": statistics.median(reads),
        "read_max": max(reads),
        "tok_s_median": statistics.median(r["tok_s"] for r in after),
        "steps": sum(a["truncated_turns"] != b["truncated_turns"] for a, b in itertools.pairwise(after)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--ctx", type=int, default=1024)
    parser.add_argument("--fits-ctx", type=int, default=8192)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    report: dict[str, Any] = {}
    first_truncation = args.turns
    per_turn: dict[str, list[dict[str, Any]]] = {}
    for label, n_ctx, policies in (
        ("small", args.ctx, (ContextOverflow.TRUNCATE_MIDDLE, ContextOverflow.ROLLING_WINDOW)),
        ("fits", args.fits_ctx, (ContextOverflow.TRUNCATE_MIDDLE,)),
    ):
        options = LoadOptions(n_ctx=n_ctx, n_threads=args.threads)
        main_model = LlamaCppModel(gemma_q4(), options)
        draft_model = LlamaCppModel(gemma_cut_down(), options)
        try:
            for policy in policies:
                name = f"{policy.value}@{n_ctx}" if label == "small" else f"fits@{n_ctx}"
                rows = play(main_model, draft_model, policy, args.turns, args.max_tokens)
                per_turn[name] = rows
                if label == "small":
                    first = next((r["turn"] for r in rows if r["truncated_turns"]), args.turns)
                    first_truncation = min(first_truncation, first)
            report["kv_shift"] = main_model.kv_shift
        finally:
            main_model.close()
            draft_model.close()
    for name, rows in per_turn.items():
        report[name] = summary(rows, first_truncation + 1)
    fits = report[f"fits@{args.fits_ctx}"]["read_median"]
    report["read_median_vs_fits"] = {
        name: round(report[name]["read_median"] / fits, 2) if fits else None
        for name in per_turn
        if name.startswith(("truncate", "rolling"))
    }
    report["setup"] = {
        "main": gemma_q4().name,
        "draft": gemma_cut_down().name,
        "turns": args.turns,
        "max_tokens": args.max_tokens,
        "first_truncation_turn": first_truncation,
        "draft_size": 4,
    }
    if args.json:
        report["per_turn"] = per_turn
        print(json.dumps(report, indent=2))
    else:
        for name in per_turn:
            print(f"{name:24s} {report[name]}")
        print("median prompt tokens read vs the chat that fits:", report["read_median_vs_fits"])
        print("KV shift:", report["kv_shift"], "setup:", report["setup"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

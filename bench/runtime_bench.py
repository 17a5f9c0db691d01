"""Model runtime costs, measured as ratios in one run.

1. The per-request draft check: what the server used to do for every request with a draft
   (`check_draft`: read both GGUF headers, vocabularies included) against what the runtime
   does (`check_pair`: the compatibility index's cached verdict), on the real Gemma pair
   (262k vocabulary) and on a tiny pair with a Llama-3-sized vocabulary (128k).
2. MLX past its sliding window (needs mlx-lm): tokens the main model evaluates per round and
   time per token late in a reply, mlx-lm's rotating cache (rebuilt after every rejected
   draft) against our rollback cache; both must give the same text.

    python bench/runtime_bench.py [--json] [--skip-gemma] [--skip-mlx]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _isolate(tmp: Path) -> None:
    """Keep the user's folders out of it: every app folder in the temporary directory."""
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HOME", "HF_HOME"):
        os.environ[var] = str(tmp / var)


def _median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def draft_check_cost(skip_gemma: bool) -> dict[str, Any]:
    from app.library.draft_rules import check_draft
    from app.library.paths import models_dir
    from app.runtime import ModelRuntime
    from tests.model_factory import gemma_f16_twin, gemma_q4, tiny_vocab, write_tiny_gguf

    folder = models_dir() / "bench" / "pairs"
    folder.mkdir(parents=True)
    pairs = []
    if not skip_gemma:
        os.symlink(gemma_f16_twin(), folder / "gemma-f16.gguf")
        os.symlink(gemma_q4(), folder / "gemma-q4.gguf")
        pairs.append(("gemma_262k", "gemma-f16.gguf", "gemma-q4.gguf"))
    vocab = tiny_vocab(extra=128_000)
    write_tiny_gguf(folder / "big-main.gguf", n_embd=16, n_layer=1, tokens=vocab)
    write_tiny_gguf(folder / "big-draft.gguf", n_embd=16, n_layer=1, tokens=vocab, seed=5)
    pairs.append(("tiny_128k", "big-main.gguf", "big-draft.gguf"))
    runtime = ModelRuntime()
    out: dict[str, Any] = {}
    try:
        for label, main, draft in pairs:
            main_ref = runtime.resolve(f"bench/pairs/{main}")
            draft_ref = runtime.resolve(f"bench/pairs/{draft}")
            before = _median_seconds(lambda m=main, d=draft: check_draft(folder / m, folder / d), 5)
            assert runtime.check_pair(main_ref, draft_ref)  # the first check fills the index
            after = _median_seconds(lambda m=main_ref, d=draft_ref: runtime.check_pair(m, d), 200)
            out[label] = {
                "check_draft_ms": round(before * 1e3, 2),
                "runtime_check_pair_us": round(after * 1e6, 1),
                "ratio": round(before / after),
            }
    finally:
        runtime.close()
    return out


def mlx_sliding_window(window: int = 32, max_tokens: int = 400) -> dict[str, Any]:
    import app.engines.mlx_cache as mlx_cache
    from app.core.events import GenerationResult, TokenEvent
    from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
    from app.engines.drafting import ModelDraft
    from app.engines.mlx import MLXModel
    from tests.mlx_factory import write_mlx_model

    root = Path(tempfile.mkdtemp())
    main_dir = write_mlx_model(root / "main", seed=0, layers=3, sliding_window=window)
    draft_dir = write_mlx_model(root / "noisy", seed=0, layers=3, sliding_window=window, noise=0.15)
    request = GenerationRequest(
        prompt="the cat sat on the mat",
        max_tokens=max_tokens,
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
        draft=DraftSettings(max_draft_size=3, p_min=0.0, auto=False),
    )

    def run(rotating: bool) -> dict[str, Any]:
        from mlx_lm.models.cache import can_trim_prompt_cache, make_prompt_cache

        main, draft = MLXModel(main_dir), MLXModel(draft_dir)
        saved = mlx_cache.can_trim
        if rotating:  # as before: mlx-lm's cache, rebuilt whenever it cannot be trimmed
            for m in (main, draft):
                m._make_cache = make_prompt_cache
                m._cache = make_prompt_cache(m._model)
            mlx_cache.can_trim = lambda cache, _n: can_trim_prompt_cache(cache)
        evaluated: list[int] = []
        original = main.eval

        def counting(tokens: Any, n_logits: int = 1) -> None:
            evaluated.append(len(tokens))
            original(tokens, n_logits)

        main.eval = counting  # type: ignore[method-assign]
        stamps: list[float] = []
        result: GenerationResult | None = None
        try:
            for item in main.generate(request, draft=ModelDraft(draft)):
                if isinstance(item, TokenEvent):
                    stamps.append(time.perf_counter())
                elif isinstance(item, GenerationResult):
                    result = item
        finally:
            mlx_cache.can_trim = saved
        assert result is not None
        late = stamps[-60:]
        return {
            "text": result.text,
            "tokens": result.stats.predicted_tokens_count,
            "evaluated_per_round": round(sum(evaluated[1:]) / max(result.stats.verify_steps, 1), 2),
            "late_ms_per_token": round((late[-1] - late[0]) / (len(late) - 1) * 1e3, 2),
        }

    rotating, rollback = run(True), run(False)
    return {
        "window": window,
        "tokens": rollback["tokens"],
        "same_text": rotating.pop("text") == rollback.pop("text"),
        "mlx_lm_rotating": rotating,
        "rollback_window": rollback,
        "late_time_ratio_rotating_over_rollback": round(
            rotating["late_ms_per_token"] / rollback["late_ms_per_token"], 2
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--skip-gemma", action="store_true", help="skip the real Gemma pair (no derived files)")
    ap.add_argument("--skip-mlx", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _isolate(Path(tmp))
        report: dict[str, Any] = {"draft_check_per_request": draft_check_cost(args.skip_gemma)}
        if not args.skip_mlx:
            from app.engines.mlx import mlx_available

            if mlx_available():
                report["mlx_past_the_sliding_window"] = mlx_sliding_window()
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

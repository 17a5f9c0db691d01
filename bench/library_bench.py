"""Library indexing speed: N generated GGUF models, scanned and checked for draft compatibility
cold (no caches) and warm (header and verdict caches on disk), as the app does at start-up.

Target (issue 4): 200 models cold in under 10 s, warm in under 0.5 s.

    python bench/library_bench.py [--models 200] [--extra-vocab 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.library.compat_index import CompatibilityIndex
from app.library.discovery import HeaderCache, ModelRoot
from app.library.library import ModelLibrary
from tests.model_factory import tiny_vocab, write_tiny_gguf


def make_models(root: Path, count: int, extra_vocab: int) -> None:
    families = [
        tiny_vocab(extra=extra_vocab),
        tiny_vocab(extra=extra_vocab + 200),
        tiny_vocab(extra=extra_vocab, rename={150: "<other>"}),
        tiny_vocab(extra=extra_vocab + 50),
    ]
    for i in range(count):
        fam = i % len(families)
        folder = root / f"publisher{fam}" / f"repo{i // 10}"
        write_tiny_gguf(folder / f"model-{i:03d}.gguf", seed=i, tokens=families[fam], n_embd=16, n_layer=1)


def index_once(root: Path, cache_dir: Path) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    library = ModelLibrary(roots=[ModelRoot(root, "bench")], cache=HeaderCache(cache_dir / "headers.json"))
    index = CompatibilityIndex(library, cache_dir / "verdicts.json")
    main_key = sorted(library.entries)[0]
    report = index.drafts_for(main_key)
    return time.perf_counter() - t0, len(library.entries), len(report.compatible)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument(
        "--extra-vocab", type=int, default=0, help="tokens added to the 365-token test vocabulary"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, caches = Path(tmp) / "models", Path(tmp) / "cache"
        t0 = time.perf_counter()
        make_models(root, args.models, args.extra_vocab)
        made = time.perf_counter() - t0
        cold, n, compatible = index_once(root, caches)
        warm = min(index_once(root, caches)[0] for _ in range(3))
    report = {
        "models": n,
        "vocab_size": len(tiny_vocab(extra=args.extra_vocab)),
        "compatible_drafts_for_first_model": compatible,
        "cold_seconds": round(cold, 3),
        "warm_seconds": round(warm, 4),
        "targets": {"cold_seconds": 10.0, "warm_seconds": 0.5},
        "met": cold < 10.0 and warm < 0.5,
        "generate_seconds": round(made, 1),
    }
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

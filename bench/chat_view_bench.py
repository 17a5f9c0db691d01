"""Append cost of the chat view while a long reply streams: the batch that arrives at token
20 must cost about what the batch at token 20,000 costs (nothing is re-rendered per token).

    QT_QPA_PLATFORM=offscreen python bench/chat_view_bench.py [--tokens 20000] [--batch 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication

from app.ui.chat_view import ChatView

WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".", "\n"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=8, help="tokens per batch (~40 ms of generation)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    view = ChatView()
    view.resize(900, 700)
    view.show()
    view.begin_stream()
    timings: list[tuple[int, float, float]] = []
    sent = 0
    while sent < args.tokens:
        batch = [
            (WORDS[(sent + i) % len(WORDS)], "draft" if (sent + i) % 3 else "main") for i in range(args.batch)
        ]
        t0 = time.perf_counter()
        view.append_tokens(batch)
        t1 = time.perf_counter()
        app.processEvents()  # the repaint the user sees, as the GUI loop would run it
        timings.append((sent, t1 - t0, time.perf_counter() - t1))
        sent += args.batch

    def median_ms(rows: list[tuple[int, float, float]], col: int) -> float:
        return round(1000 * statistics.median(r[col] for r in rows), 3)

    early = [r for r in timings if r[0] < 400]
    late = [r for r in timings if r[0] >= args.tokens - 400]
    t0 = time.perf_counter()
    view.end_stream(None)
    final_render = time.perf_counter() - t0
    report = {
        "tokens": args.tokens,
        "batch": args.batch,
        "append_ms_per_batch_at_start": median_ms(early, 1),
        "append_ms_per_batch_at_end": median_ms(late, 1),
        "qt_repaint_ms_per_batch_at_start": median_ms(early, 2),
        "qt_repaint_ms_per_batch_at_end": median_ms(late, 2),
        "final_markdown_render_ms": round(1000 * final_render, 1),
    }
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Append cost of the chat view while a long reply streams: the batch that arrives at token
20 must cost about what the batch at token 20,000 costs (nothing already shown is rendered
again), for Markdown with code blocks and for one endless line without a newline.

    QT_QPA_PLATFORM=offscreen python bench/chat_view_bench.py [--tokens 20000] [--batch 8] [--json]

Each batch is what the engine thread sends every ~40 ms: pieces with their round, a rejected
proposal now and then, and round summaries (they drive the live strip). Reported per case:
median ms per batch for the view's own work (append) and for Qt's layout and paint that
follows (repaint), near the start and near the end; finishing the reply; re-rendering it
(toggling rejected drafts, switching theme) and reopening it.
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

from app.chat.message_model import MessageView
from app.chat.reply_stats import ReplyStats
from app.chat.stream_batch import DRAFT, MAIN, REJECTED, StreamBatch
from app.core.events import GenerationStats, RoundEvent
from app.ui.chat.transcript.view import ChatView
from app.ui.theme.colours import DARK

MARKDOWN = [
    "## Step", " one", "\n", "The", " **quick**", " brown", " fox", " jumps", " over", " `lazy`", " dog",
    ".", "\n", "-", " item", " one", "\n", "```python", "\n", "def", " f", "(x", "):", "\n", "    return",
    " x", " +", " 1", "\n", "```", "\n", "\n",
]  # fmt: skip
LONG_LINE = [" The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ","]


def run_case(app: QApplication, words: list[str], tokens: int, batch: int) -> dict[str, float]:
    view = ChatView()
    view.resize(900, 700)
    view.show()
    view.set_show_rejected(True)
    view.begin_stream(with_draft=True)
    timings: list[tuple[int, float, float]] = []
    sent, rnd = 0, 1
    while sent < tokens:
        pieces = []
        rounds = []
        for i in range(batch):
            k = sent + i
            draft = k % 4 != 3  # three accepted draft tokens, then the main model's own
            pieces.append((words[k % len(words)], DRAFT if draft else MAIN, rnd))
            if not draft:
                if rnd % 5 == 0:
                    pieces.insert(len(pieces) - 1, (" proposal", REJECTED, rnd))
                rounds.append(RoundEvent(rnd, 4, 3, 4))
                rnd += 1
        b = StreamBatch(pieces=pieces, rounds=rounds, tokens=batch, elapsed=sent / 40)
        t0 = time.perf_counter()
        view.append_batch(b)
        t1 = time.perf_counter()
        app.processEvents()  # the layout and repaint the user sees, as the GUI loop would run them
        timings.append((sent, t1 - t0, time.perf_counter() - t1))
        sent += batch

    def median_ms(rows: list[tuple[int, float, float]], col: int) -> float:
        return round(1000 * statistics.median(r[col] for r in rows), 3)

    def timed(step: object) -> float:
        t = time.perf_counter()
        step()  # type: ignore[operator]
        app.processEvents()
        return round(1000 * (time.perf_counter() - t), 1)

    early = [r for r in timings if r[0] < 400]
    late = [r for r in timings if r[0] >= tokens - 400]
    m = view.streaming
    assert m is not None
    out = {
        "chars": len(m.text),
        "append_ms_per_batch_at_start": median_ms(early, 1),
        "append_ms_per_batch_at_end": median_ms(late, 1),
        "repaint_ms_per_batch_at_start": median_ms(early, 2),
        "repaint_ms_per_batch_at_end": median_ms(late, 2),
        "finish_ms": timed(lambda: view.end_stream(ReplyStats(GenerationStats(tokens_per_second=40.0)))),
        "toggle_rejected_ms": timed(lambda: view.set_show_rejected(False)),
        "switch_theme_ms": timed(lambda: view.set_theme(DARK)),
        "reopen_ms": timed(
            lambda: view.set_messages(
                [MessageView.from_stored("assistant", m.text, m.origins, m.stats_for_storage())]
            )
        ),
    }
    view.close()
    view.deleteLater()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=8, help="tokens per batch (~40 ms of generation)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    report = {
        "tokens": args.tokens,
        "batch": args.batch,
        "markdown": run_case(app, MARKDOWN, args.tokens, args.batch),
        "one_long_line": run_case(app, LONG_LINE, args.tokens, args.batch),
    }
    print(json.dumps(report, indent=2) if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the engine thread sends the GUI while a reply streams: one batch every ~40 ms.

A batch holds the pieces in stream order (accepted-draft and main tokens with their round,
and what the draft proposed and lost, where it was lost) and the round summaries since the
last batch, so the view never needs one signal per token. `LiveStats` folds batches into
the numbers of the live strip. No Qt here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.core.events import DraftRejected, GenerationStats, RoundEvent, StreamItem, TokenEvent

MAIN, DRAFT, REJECTED = "main", "draft", "rejected"
BATCH_SECONDS = 0.04

Piece = tuple[str, str, int]  # (text, MAIN | DRAFT | REJECTED, round)


@dataclass
class StreamBatch:
    pieces: list[Piece] = field(default_factory=list)
    rounds: list[RoundEvent] = field(default_factory=list)
    tokens: int = 0  # token events in this batch (a token may carry no text yet)
    draft_tokens: int = 0  # of which accepted draft tokens
    elapsed: float = 0.0  # seconds from the reply's first token to the end of this batch

    def __bool__(self) -> bool:
        return bool(self.pieces or self.rounds or self.tokens)


class StreamBatcher:
    """Collects stream items; `add` hands back a batch once `interval` has passed."""

    def __init__(self, interval: float = BATCH_SECONDS, clock: Callable[[], float] | None = None) -> None:
        self.interval = interval
        self.clock = clock if clock is not None else time.perf_counter
        self._batch = StreamBatch()
        self._last = self.clock()
        self._first_token: float | None = None

    def add(self, item: StreamItem) -> StreamBatch | None:
        b = self._batch
        if isinstance(item, TokenEvent):
            if self._first_token is None:
                self._first_token = self.clock()
            b.tokens += 1
            b.draft_tokens += item.origin.value == DRAFT
            if item.text:
                b.pieces.append((item.text, item.origin.value, item.round))
        elif isinstance(item, DraftRejected):
            if item.text:
                b.pieces.append((item.text, REJECTED, item.round))
        elif isinstance(item, RoundEvent):
            b.rounds.append(item)
        else:
            return None
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            return self.flush()
        return None

    def flush(self) -> StreamBatch | None:
        batch, self._batch = self._batch, StreamBatch()
        if not batch:
            return None
        if self._first_token is not None:
            batch.elapsed = self.clock() - self._first_token
        return batch


@dataclass
class LiveStats:
    """The running numbers of a reply in progress: a GenerationStats folded from its batches
    the way the engine counts (GenerationStats.add_round_event, decode_rate), so the strip,
    the chart and the final stats cannot disagree."""

    stats: GenerationStats = field(default_factory=GenerationStats)
    draft_tokens: int = 0  # accepted draft tokens the reply shows so far, from the tokens themselves
    paused_rounds: int = 0
    draft_length: int | None = None  # asked of the draft in the latest round
    paused: str = ""  # why the latest round did not draft ("" when it did)

    def update(self, batch: StreamBatch) -> None:
        s = self.stats
        s.predicted_tokens_count += batch.tokens
        self.draft_tokens += batch.draft_tokens
        s.set_speed(batch.elapsed or s.generation_time)
        for r in batch.rounds:
            s.add_round_event(r)
            self.draft_length = r.draft_length
            self.paused = r.paused
            self.paused_rounds += bool(r.paused)

    @property
    def tokens(self) -> int:
        return self.stats.predicted_tokens_count

    @property
    def tokens_per_second(self) -> float | None:
        return self.stats.tokens_per_second or None

"""Stream batching: a synthetic stream of tokens, rejected drafts and rounds comes out in ~40 ms
batches, in order, with nothing lost."""

from __future__ import annotations

from app.chat.stream_batch import DRAFT, MAIN, REJECTED, StreamBatcher
from app.core.events import (
    DraftRejected,
    GenerationResult,
    GenerationStats,
    RoundEvent,
    TokenEvent,
    TokenOrigin,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def synthetic_stream(clock: FakeClock, n_rounds: int):
    """Rounds of 3 accepted draft tokens, a refused proposal, the main model's token; 1 ms each."""
    yield TokenEvent(1, "Start", TokenOrigin.MAIN, 0)
    for r in range(1, n_rounds + 1):
        for i in range(3):
            clock.now += 0.001
            yield TokenEvent(10 + i, f" d{r}.{i}", TokenOrigin.DRAFT, r)
        yield DraftRejected(r, (7, 8), f" lost{r}")
        yield RoundEvent(r, 5, 3, 5, "")
        clock.now += 0.001
        yield TokenEvent(2, "", TokenOrigin.MAIN, r)  # half a character: no text yet
        yield TokenEvent(3, f" m{r}", TokenOrigin.MAIN, r)
    yield GenerationResult("text", GenerationStats())


def expected_pieces(n_rounds: int) -> list[tuple[str, str, int]]:
    out = [("Start", MAIN, 0)]
    for r in range(1, n_rounds + 1):
        out += [(f" d{r}.{i}", DRAFT, r) for i in range(3)]
        out += [(f" lost{r}", REJECTED, r), (f" m{r}", MAIN, r)]
    return out


def test_batcher_sends_one_batch_per_interval_with_everything_in_order():
    clock = FakeClock()
    batcher = StreamBatcher(clock=clock)
    batches = []
    for item in synthetic_stream(clock, 200):
        if not isinstance(item, GenerationResult):
            b = batcher.add(item)
            if b is not None:
                batches.append(b)
    last = batcher.flush()
    assert last is not None
    batches.append(last)
    # 200 rounds of 5 tokens at 1 ms per text-bearing step: ~0.8 s, so ~20 batches, not 1000 signals
    assert 18 <= len(batches) <= 22
    assert [p for b in batches for p in b.pieces] == expected_pieces(200)
    assert [r.round for b in batches for r in b.rounds] == list(range(1, 201))
    assert sum(b.tokens for b in batches) == 1 + 200 * 5
    assert batches[-1].elapsed > batches[0].elapsed > 0
    assert batcher.flush() is None  # nothing left

"""The engine thread: it streams a reply in batches that name the reply, and a draft that
cannot be loaded is the draft's failure, never the reply's."""

from __future__ import annotations

from types import SimpleNamespace

from app.chat import stream_batch
from app.chat.reply_flight import ReplyJob
from app.core.events import GenerationResult
from app.ui.engine_thread import EngineWorker
from tests.chat.test_stream_batch import FakeClock, expected_pieces, synthetic_stream


def test_worker_streams_batches_of_a_synthetic_reply(qtbot, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(stream_batch, "time", SimpleNamespace(perf_counter=clock))
    worker = EngineWorker(runtime=SimpleNamespace())  # type: ignore[arg-type]  # only streaming is exercised
    lease = SimpleNamespace(generate=lambda request, cancel: synthetic_stream(clock, 50))
    got = []
    worker.tokensArrived.connect(lambda reply, batch: got.append((reply, batch)))
    result = worker._stream(lease, ReplyJob(7, None))  # type: ignore[arg-type]
    assert isinstance(result, GenerationResult)
    assert 3 <= len(got) <= 7
    assert {reply for reply, _b in got} == {7}  # every batch names its reply
    assert [p for _r, b in got for p in b.pieces] == expected_pieces(50)
    assert sum(len(b.rounds) for _r, b in got) == 50

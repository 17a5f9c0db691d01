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


def test_a_draft_that_does_not_load_is_the_drafts_failure_not_the_replys(qtbot):
    from pathlib import Path

    from app.chat.load_job import LoadJob
    from app.core.errors import SpeculaError

    clock = FakeClock()

    class Lease:
        main_key, draft_key = "main.gguf", None

        def __enter__(self):
            return self

        def __exit__(self, *_exc):
            return None

        def generate(self, request, cancel):
            return synthetic_stream(clock, 2)

    class Runtime:
        def lease(self, main, draft, **_kwargs):
            if draft is not None:
                raise SpeculaError("bad magic")
            return Lease()

    worker = EngineWorker(runtime=Runtime())  # type: ignore[arg-type]
    worker.main_key = "main.gguf"
    seen: list[tuple] = []
    worker.draftRejected.connect(lambda *a: seen.append(("rejected", *a)))
    worker.generationFailed.connect(lambda *a: seen.append(("failed", *a)))
    worker.generationFinished.connect(lambda reply, result: seen.append(("finished", reply)))
    worker.replyStarted.connect(lambda *a: seen.append(("started", *a)))
    worker.set_draft(LoadJob(Path("/m/noisy.gguf"), "noisy.gguf", 4096, 0))
    worker.generate(ReplyJob(5, None))  # type: ignore[arg-type]  # queued behind the draft
    assert seen == [
        ("rejected", "noisy.gguf", "Could not load the draft noisy.gguf: bad magic"),
        ("started", 5, "main.gguf", ""),  # the pair it ran on: no draft, whatever was chosen
        ("finished", 5),
    ]

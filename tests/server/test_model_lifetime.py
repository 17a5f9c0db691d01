"""Models through the server's life: loaded on demand and unloaded when idle (TTL, auto-evict,
never under a reply, never the chat's), the per-model line (1 running + 8 waiting, then 503),
and a client that leaves cancels its request wherever it is: in line, reading its prompt,
or decoding."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable

import pytest

from app.engines.llamacpp import LlamaCppModel
from app.runtime import MAX_WAITING, ModelRuntime
from app.server.records import RequestRecord, ServerNote
from tests.server.conftest import MAIN, WORDS, call, chat_body

NO_SWEEPER = {"sweep_interval": 3600.0}  # the test sweeps itself, after moving the clock


def wait_until(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def loaded(srv) -> set[str]:
    return srv.runtime.loaded_keys()


# --- idle TTL --------------------------------------------------------------------------------
class Clock:
    """The runtime's clock for idle times, moved by the test: no waiting for a TTL to pass."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def idle_server(make_server, clock: Clock, **config: object):
    return make_server(runtime=ModelRuntime(clock=clock), **{**NO_SWEEPER, **config})


def answered(srv, **body: object) -> None:
    """A request answered and done with: its lease let go, where a model's idle time starts
    (the answer can reach the client a moment before)."""
    assert call(srv, "POST", "/v1/chat/completions", chat_body(**body))[0] == 200
    assert wait_until(lambda: not any(info.leased for info in srv.runtime.loaded()))


def test_a_requests_ttl_unloads_the_model_when_idle(make_server):
    clock = Clock()
    srv = idle_server(make_server, clock, sweep_interval=0.05)  # the server's own sweeper
    answered(srv, ttl=1)
    assert loaded(srv) == {MAIN}
    assert srv.server.jit.tracked == {MAIN: 1.0}
    clock.advance(0.9)
    assert srv.server.jit.sweep() == []
    assert loaded(srv) == {MAIN}
    clock.advance(0.2)
    note = f"unloaded {MAIN} (idle for 1 s)"
    # the sweeper writes its note just after the model is gone: wait for the note itself
    assert wait_until(lambda: any(isinstance(r, ServerNote) and note in str(r) for r in srv.records))
    assert not loaded(srv)
    assert call(srv, "POST", "/v1/chat/completions", chat_body())[0] == 200  # loaded again on demand


def test_the_default_ttl_applies_without_one_in_the_request(make_server):
    clock = Clock()
    srv = idle_server(make_server, clock, idle_ttl=0.5)
    long_lived = idle_server(make_server, clock)  # the default: an hour
    for s in (srv, long_lived):
        answered(s)
    clock.advance(0.6)
    for s in (srv, long_lived):
        s.server.jit.sweep()
    assert not loaded(srv)
    assert loaded(long_lived) == {MAIN}
    clock.advance(3600)
    long_lived.server.jit.sweep()
    assert not loaded(long_lived)


def test_a_leased_model_is_not_unloaded_whatever_its_ttl(make_server):
    clock = Clock()
    srv = idle_server(make_server, clock)
    answered(srv, ttl=1)
    with srv.runtime.lease(MAIN):  # a reply in progress
        clock.advance(60)
        assert srv.server.jit.sweep() == []
        assert loaded(srv) == {MAIN}
    clock.advance(0.5)  # idle since the lease ended: not yet past its TTL
    assert srv.server.jit.sweep() == []
    clock.advance(0.6)
    assert srv.server.jit.sweep() == [MAIN]
    assert not loaded(srv)


def test_the_chats_models_are_never_unloaded_by_the_server(make_server):
    clock = Clock()
    srv = idle_server(make_server, clock, idle_ttl=0.3)  # a runtime shared with the chat
    srv.runtime.load(MAIN, pin=True)  # the chat loaded it
    answered(srv, ttl=1)
    clock.advance(60)
    srv.server.jit.sweep()
    assert loaded(srv) == {MAIN}
    assert srv.server.jit.tracked == {}
    # a model the server loaded and the chat then picked is the chat's from then on
    answered(srv, model=WORDS, ttl=1)
    srv.runtime.pin(WORDS)
    clock.advance(60)
    srv.server.jit.sweep()
    assert loaded(srv) == {MAIN, WORDS}
    srv.server.stop()  # stopping frees only what the server loaded (nothing here), not the runtime
    assert loaded(srv) == {MAIN, WORDS}
    assert not srv.runtime.closed


def test_loading_another_model_on_demand_frees_the_previous_one(make_server):
    srv = make_server()
    answered(srv)  # done with: a model a reply still holds is never freed (it was, one run in three)
    answered(srv, model=WORDS)
    assert loaded(srv) == {WORDS}
    assert any(f"unloaded {MAIN} (another model was requested)" in str(r) for r in srv.records)
    keep = make_server(auto_evict=False)
    answered(keep)
    answered(keep, model=WORDS)
    assert loaded(keep) == {MAIN, WORDS}


def test_stopping_the_server_frees_what_it_loaded(make_server):
    srv = make_server()
    assert call(srv, "POST", "/v1/chat/completions", chat_body())[0] == 200
    srv.server.stop()
    assert srv.runtime.closed  # the server made this runtime: it is closed with it


# --- the line -------------------------------------------------------------------------------
def test_the_line_holds_eight_then_503(server):
    assert call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
    results: list[int] = []
    lock = threading.Lock()

    def ask() -> None:
        status = call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=4))[0]
        with lock:
            results.append(status)

    with server.runtime.lease(MAIN):  # the one running
        threads = [threading.Thread(target=ask) for _ in range(MAX_WAITING)]
        for t in threads:
            t.start()
        assert wait_until(lambda: server.runtime.loaded()[0].waiting == MAX_WAITING)
        status, body, headers = call(server, "POST", "/v1/chat/completions", chat_body())
        assert status == 503
        assert body["error"]["code"] == "server_busy"
        assert headers["retry-after"] == "1"
    for t in threads:
        t.join(60)
    assert results == [200] * MAX_WAITING


def send_request(srv, body: dict, path: str = "/v1/chat/completions") -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


def test_a_client_that_leaves_the_line_frees_its_place(server):
    assert call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
    with server.runtime.lease(MAIN):
        sock = send_request(server, chat_body())
        assert wait_until(lambda: server.runtime.loaded()[0].waiting == 1)
        sock.close()
        assert wait_until(lambda: server.runtime.loaded()[0].waiting == 0, timeout=5)
    assert wait_until(lambda: any(r.status == 499 for r in server.requests()))


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_while_its_prompt_is_read_stops_it_there(server, monkeypatch, stream):
    monkeypatch.setattr("app.engines.prompt_reading.PROMPT_CHUNK", 16)
    assert call(server, "POST", "/v1/chat/completions", chat_body(max_tokens=1))[0] == 200
    reading, go = threading.Event(), threading.Event()
    chunks: list[int] = []
    real_eval = LlamaCppModel.eval

    def gated_eval(self: LlamaCppModel, tokens, n_logits: int = 1) -> None:
        if n_logits == 0:  # a chunk of a prompt being read
            chunks.append(len(tokens))
            reading.set()
            go.wait(10)
        real_eval(self, tokens, n_logits)

    monkeypatch.setattr(LlamaCppModel, "eval", gated_eval)
    long_prompt = "the cat sat on the mat and ran to the big red house " * 6  # ~200 tokens: 12 chunks
    sock = send_request(server, chat_body(messages=[{"role": "user", "content": long_prompt}], stream=stream))
    assert reading.wait(10)
    sock.close()
    time.sleep(0.3)  # the server notices the hang-up
    go.set()
    assert wait_until(lambda: len(server.requests()) == 2, timeout=10)
    assert len(chunks) <= 2, chunks  # stopped after the chunk being read, not 16 chunks later
    record = server.requests()[-1]
    assert record.status == (200 if stream else 499)
    assert (record.tokens or 0) == 0
    monkeypatch.setattr(LlamaCppModel, "eval", real_eval)
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200


def test_a_client_that_leaves_mid_stream_stops_its_reply(server):
    sock = send_request(server, chat_body(model=WORDS, max_tokens=500, stream=True, ttl=3600))
    received = b""
    while received.count(b"data: ") < 3:
        chunk = sock.recv(4096)
        assert chunk, received  # the server closed before 3 events: it answered an error
        received += chunk
    sock.close()
    assert wait_until(lambda: len(server.requests()) == 1, timeout=10)
    record = server.requests()[0]
    assert isinstance(record, RequestRecord)
    assert record.tokens is not None
    assert record.tokens < 500

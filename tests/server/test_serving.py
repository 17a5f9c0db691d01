"""Running the server: start and stop cleanly on a background thread (also mid-reply), the
headless `serve` command stopped with Ctrl+C, and the structured log of requests."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.server.config import ServerConfig
from app.server.records import RequestRecord, ServerNote
from app.server.serving import LocalServer
from tests.server.conftest import MAIN, WORDS, call, chat_body

REPO = Path(__file__).resolve().parents[2]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a restarted server binds
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_start_and_stop_leave_nothing_behind(library):
    before = {t.name for t in threading.enumerate()}
    server = LocalServer(ServerConfig(port=0))
    server.start()
    assert server.running
    assert server.url == f"http://127.0.0.1:{server.port}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a keep-alive client
    conn.request("GET", "/v1/models")
    assert conn.getresponse().read()
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 5
    assert not server.running
    assert port_is_free(server.port)
    assert {t.name for t in threading.enumerate()} - before == set()
    server.stop()  # twice is fine
    conn.close()


def test_a_port_in_use_is_an_error_at_start(library):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server = LocalServer(ServerConfig(port=taken.getsockname()[1]))
        with pytest.raises(OSError):  # noqa: PT011 (the OS words "address in use" its own way)
            server.start()
        assert not server.running


def test_stopping_mid_reply_ends_the_stream_and_says_why(make_server):
    srv = make_server()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    body = chat_body(model=WORDS, max_tokens=100_000, stream=True)
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline().startswith(b"data: ")
    stopper = threading.Thread(target=srv.server.stop)
    t0 = time.monotonic()
    stopper.start()
    rest = resp.read().decode()
    stopper.join(20)
    assert not stopper.is_alive()
    assert time.monotonic() - t0 < 10
    conn.close()
    assert '"server_stopping"' in rest
    assert rest.rstrip().endswith("data: [DONE]")
    assert not srv.server.running


def test_every_request_is_reported_as_a_record(server):
    call(server, "POST", "/api/v0/chat/completions", chat_body(draft_model="test/tiny/twin.gguf"))
    call(server, "GET", "/v1/nothing")
    done, missing = server.requests()[-2:]
    assert (done.method, done.path, done.status, done.model) == (
        "POST",
        "/api/v0/chat/completions",
        200,
        MAIN,
    )
    assert done.tokens == 16
    assert done.tokens_per_second
    assert done.acceptance is not None
    assert done.draft == "twin.gguf"
    assert done.duration > 0
    line = str(done)
    assert "POST /api/v0/chat/completions" in line
    assert "200" in line
    assert "tok/s" in line
    assert "accepted" in line
    assert missing.status == 404
    assert "no such endpoint" in (missing.error or "")
    notes = [r for r in server.records if isinstance(r, ServerNote)]
    assert notes
    assert str(notes[0]).endswith(f"listening on {server.url}")


def test_a_failing_log_consumer_does_not_break_the_server(library):
    def broken(record: RequestRecord | ServerNote) -> None:
        raise RuntimeError("the page is gone")

    server = LocalServer(ServerConfig(port=0), on_log=broken)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/v1/models")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.stop()


def foreground_signals() -> None:
    """In the child: SIGINT as a terminal's foreground process has it. A shell without job
    control starts background commands (a CI script's `cmd &`) with SIGINT ignored, and
    children inherit that: Python then installs no Ctrl+C handler at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_serve_runs_headless_and_stops_cleanly(library, stop_signal):
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", "0", "--ttl", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
        preexec_fn=foreground_signals,
    )
    try:
        assert proc.stdout is not None
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            found = re.search(r"Specula server on (http://\S+)", line)
            url = found.group(1) if found else None
        assert url, proc.stderr.read() if proc.stderr else ""
        port = int(url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request(
            "POST",
            "/v1/completions",
            json.dumps({"model": MAIN, "prompt": "the", "max_tokens": 3}),
            {"Content-Type": "application/json"},
        )
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(stop_signal)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "POST /v1/completions  200" in out
    assert out.rstrip().endswith("stopped")


def test_serve_refuses_the_network_without_a_key(library):
    proc = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "requires an API key" in proc.stderr
    assert "Traceback" not in proc.stderr

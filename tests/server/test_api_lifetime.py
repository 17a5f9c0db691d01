"""The Responses, Messages and REST v1 routes share the queue and the cancellation of every
generation: a client that leaves the line frees its place, one that leaves mid-stream stops
its reply, and each request is logged with its model, tokens and draft."""

from __future__ import annotations

import pytest

from app.server.records import RequestRecord
from tests.server.conftest import MAIN, TWIN, WORDS, call
from tests.server.test_model_lifetime import send_request, wait_until

# path -> a body asking for `n` tokens of `model`
ROUTES = {
    "/v1/responses": lambda model, n: {"model": model, "input": "the cat", "max_output_tokens": n},
    "/v1/messages": lambda model, n: {
        "model": model,
        "messages": [{"role": "user", "content": "the cat"}],
        "max_tokens": n,
    },
    "/api/v1/chat": lambda model, n: {"model": model, "input": "the cat", "max_output_tokens": n},
}


@pytest.mark.parametrize("path", ROUTES)
def test_a_client_that_leaves_the_line_frees_its_place(server, path):
    assert call(server, "POST", path, ROUTES[path](MAIN, 1))[0] == 200
    with server.runtime.lease(MAIN):
        sock = send_request(server, ROUTES[path](MAIN, 4), path)
        assert wait_until(lambda: server.runtime.loaded()[0].waiting == 1)
        sock.close()
        assert wait_until(lambda: server.runtime.loaded()[0].waiting == 0, timeout=5)
    assert wait_until(lambda: any(r.status == 499 for r in server.requests()))
    assert len(server.server.jobs) == 0


@pytest.mark.parametrize("path", ROUTES)
def test_a_client_that_leaves_mid_stream_stops_its_reply(server, path):
    sock = send_request(server, {**ROUTES[path](WORDS, 100_000), "stream": True, "temperature": 0}, path)
    sock.settimeout(60)  # a refused request must fail the test, not hang it
    received = b""
    while received.count(b"data: ") < 8:
        chunk = sock.recv(4096)
        assert chunk, received  # the server closed before 8 events: it answered an error
        received += chunk
    sock.close()
    assert wait_until(lambda: len(server.requests()) == 1, timeout=10)
    record = server.requests()[0]
    assert isinstance(record, RequestRecord)
    assert record.error == "the client disconnected"
    assert record.tokens is not None
    assert record.tokens < 100_000
    assert wait_until(lambda: len(server.server.jobs) == 0)


@pytest.mark.parametrize("path", ROUTES)
def test_each_request_is_logged_with_its_model_tokens_and_draft(server, path):
    body = {**ROUTES[path](MAIN, 6), "draft_model": TWIN, "draft_auto": False, "temperature": 0}
    assert call(server, "POST", path, body)[0] == 200
    assert call(server, "POST", path, {**body, "model": "nope"})[0] == 404
    ok, refused = server.requests()
    assert (ok.path, ok.status, ok.model, ok.tokens, ok.draft) == (path, 200, MAIN, 6, "twin.gguf")
    assert ok.acceptance == 1.0
    assert ok.error is None
    assert refused.status == 404
    assert refused.model == "nope"
    assert "nope" in (refused.error or "")

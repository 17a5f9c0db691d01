"""What no well-behaved client sends, over raw sockets: idle and slow clients are timed out,
malformed requests get JSON errors with a 4xx (or 501), and the server keeps serving."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.server.conftest import (
    MAIN,
    Served,
    call,
    chat_body,
    closed_by_server,
    connect,
    raw_exchange,
    read_response,
)

SHORT = {"head_timeout": 1.0, "body_timeout": 1.0, "keep_alive_timeout": 1.0}


@pytest.fixture
def quick(make_server) -> Served:
    return make_server(**SHORT)


def post(path: str, body: bytes, *, length: str | None = None, extra: str = "") -> bytes:
    size = str(len(body)) if length is None else length
    head = (
        f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n{extra}\r\n"
    )
    return head.encode() + body


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> dict:
    assert status == expected, body
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == code, error
    assert error["message"], error
    return error


def still_serving(srv: Served) -> None:
    assert call(srv, "GET", "/v1/models")[0] == 200


# --- timeouts --------------------------------------------------------------------------------
def test_an_idle_connection_is_closed(quick):
    with connect(quick) as sock:
        assert closed_by_server(sock, timeout=5)


def test_a_client_trickling_its_headers_gets_408(quick):
    with connect(quick) as sock:
        t0 = time.monotonic()
        sock.sendall(b"GET /v1/models HTTP/1.1\r\n")
        for _ in range(4):  # a byte now and then (it would keep resetting a plain idle timer)
            time.sleep(0.2)
            sock.sendall(b"X")
        status, headers, body = read_response(sock, timeout=5)  # and never the end of the head
        assert_json_error(status, headers, body, 408, "request_timeout")
        assert time.monotonic() - t0 < 3
    still_serving(quick)


def test_a_body_shorter_than_its_content_length_gets_408_quickly(quick):
    status, headers, body, took = raw_exchange(
        quick, post("/v1/chat/completions", b'{"model": "x"', length="100"), timeout=10
    )
    error = assert_json_error(status, headers, body, 408, "request_timeout")
    assert "13 bytes of 100 received, nothing more for 1 s" in error["message"]
    assert took < 4
    still_serving(quick)


def test_a_negative_content_length_is_400_at_once(quick):
    status, headers, body, took = raw_exchange(quick, post("/v1/chat/completions", b"{}", length="-1"))
    assert_json_error(status, headers, body, 400, "bad_http_request")
    assert took < 1
    assert headers.get("connection") == "close"
    status, headers, body, _ = raw_exchange(quick, post("/v1/chat/completions", b"{}", length="ten"))
    assert_json_error(status, headers, body, 400, "bad_http_request")
    still_serving(quick)


def test_many_idle_connections_do_not_take_a_thread_each(quick):
    before = threading.active_count()
    socks = [connect(quick) for _ in range(200)]
    try:
        time.sleep(0.3)
        assert threading.active_count() - before < 5  # asyncio: sockets, not threads
        still_serving(quick)
        assert all(closed_by_server(s, timeout=5) for s in socks[:20])
    finally:
        for s in socks:
            s.close()


# --- malformed requests ------------------------------------------------------------------------
def test_a_garbage_request_line_is_a_json_400(quick):
    status, headers, body, _ = raw_exchange(quick, b"HELLO THERE\r\n\r\n")
    assert_json_error(status, headers, body, 400, "bad_http_request")
    status, headers, body, _ = raw_exchange(quick, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")
    assert_json_error(status, headers, body, 400, "bad_http_request")  # a TLS hello on plain HTTP
    still_serving(quick)


def test_a_70_kb_url_is_a_json_414_or_431(quick):
    # whether h11 sees the head whole (our 414) or in pieces past its 16 KB limit (its 431)
    # depends on how the bytes arrive: both are JSON and neither echoes the URL back
    status, headers, body, _ = raw_exchange(
        quick, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    assert status in (414, 431)
    assert len(body) < 500
    assert_json_error(status, headers, body, status, "url_too_long" if status == 414 else "headers_too_large")
    with connect(quick) as sock:  # in pieces: h11's limit
        sock.sendall(b"GET /" + b"a" * 20_000)
        time.sleep(0.2)
        sock.sendall(b"a" * 50_000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, headers, body = read_response(sock)
        assert_json_error(status, headers, body, 431, "headers_too_large")
    still_serving(quick)


def test_headers_over_16_kb_in_one_piece_are_a_json_431(quick):
    payload = b"GET /v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n"
    status, headers, body, _ = raw_exchange(quick, payload)
    assert_json_error(status, headers, body, 431, "headers_too_large")


def test_200_headers_are_a_json_431(quick):
    headers_text = "".join(f"X-Header-{i}: v\r\n" for i in range(200))
    payload = f"GET /v1/models HTTP/1.1\r\nHost: localhost\r\n{headers_text}\r\n".encode()
    status, headers, body, _ = raw_exchange(quick, payload)
    assert_json_error(status, headers, body, 431, "too_many_headers")
    still_serving(quick)


def test_an_unknown_transfer_encoding_is_a_json_501(quick):
    payload = (
        b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: gzip\r\n\r\n"
    )
    status, headers, body, _ = raw_exchange(quick, payload)
    assert_json_error(status, headers, body, 501, "not_implemented")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("PUT", "/v1/chat/completions", 405, "method_not_allowed"),
        ("DELETE", "/v1/models", 405, "method_not_allowed"),
        ("GET", "/v1/chat/completions", 405, "method_not_allowed"),
        ("PATCH", "/nothing/here", 404, "not_found"),
        ("GET", "/v1/embeddings", 404, "not_found"),
    ],
)
def test_wrong_methods_and_paths_are_json(quick, method, path, status, code):
    got, body, headers = call(quick, method, path)
    assert got == status
    assert body["error"]["code"] == code
    assert headers["content-type"] == "application/json"
    if status == 405:
        assert "allow" in headers


def test_head_is_answered_without_a_body_and_with_json_type(quick):
    with connect(quick) as sock:
        sock.sendall(b"HEAD /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n\r\n")
        status, headers, _ = read_response(sock, head=True)
        assert status == 405
        assert headers["content-type"] == "application/json"
        sock.sendall(b"HEAD /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\n")  # same connection
        status, headers, _ = read_response(sock, head=True)
        assert status == 200
        assert headers["content-type"] == "application/json"


def test_a_body_over_1_mb_is_refused_from_its_length_before_it_is_sent(quick):
    with connect(quick) as sock:
        t0 = time.monotonic()
        sock.sendall(post("/v1/completions", b"", length=str(50 * 1024 * 1024)))
        status, headers, body = read_response(sock)
        assert_json_error(status, headers, body, 413, "body_too_large")
        assert time.monotonic() - t0 < 2
        assert headers.get("connection") == "close"


def test_a_chunked_body_over_1_mb_is_refused(quick):
    chunk = b"x" * 65536
    payload = (
        b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + (b"10000\r\n" + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    )
    status, headers, body, _ = raw_exchange(quick, payload)
    assert_json_error(status, headers, body, 413, "body_too_large")


@pytest.mark.parametrize(
    ("raw", "code", "needle"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json", "nested deeper"),
        (
            json.dumps(
                {"model": MAIN, "messages": [{"role": "user", "content": {"a": [[[[[[[[]]]]]]]]}}]}
            ).encode(),
            "invalid_value",
            "messages[0].content",
        ),
        (json.dumps(chat_body(model="test/\u0000/main.gguf")).encode(), "invalid_value", "NUL"),
        (
            json.dumps(chat_body(messages=[{"role": "user", "content": "a\ud800b"}])).encode(),
            "invalid_value",
            "lone UTF-16 surrogate",
        ),
        (json.dumps(chat_body(n=3)).encode(), "unsupported_parameter", "n > 1"),
        (json.dumps(chat_body(n=0)).encode(), "invalid_value", "n must be >= 1"),
    ],
)
def test_hostile_bodies_are_400s(quick, raw, code, needle):
    status, body, _ = call(quick, "POST", "/v1/chat/completions", raw=raw)
    assert status == 400, body
    assert body["error"]["code"] == code, body
    assert needle in body["error"]["message"], body
    still_serving(quick)


def test_a_deep_body_that_is_valid_elsewhere_is_refused_by_depth(quick):
    deep: object = "x"
    for _ in range(70):
        deep = [deep]
    status, body, _ = call(quick, "POST", "/v1/chat/completions", chat_body(metadata=deep))
    assert status == 400
    assert "nested deeper than 64" in body["error"]["message"]

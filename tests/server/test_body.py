"""Reading and decoding request bodies, on their own (no socket)."""

from __future__ import annotations

import asyncio

import pytest

from app.server.body import ClientDisconnected, decode_json, read_body
from app.server.errors import ApiError


def feed(*messages: dict, pause: float = 0.0):
    queue = list(messages)

    async def receive() -> dict:
        if pause:
            await asyncio.sleep(pause)
        if not queue:
            await asyncio.sleep(3600)
        return queue.pop(0)

    return receive


def body(data: bytes, more: bool = False) -> dict:
    return {"type": "http.request", "body": data, "more_body": more}


def test_a_body_in_pieces():
    got = asyncio.run(read_body(feed(body(b'{"a"', True), body(b": 1}")), "8"))
    assert got == b'{"a": 1}'


def test_a_trickling_body_meets_the_deadline():
    trickle = feed(*[body(b"x", True)] * 100, pause=0.05)
    with pytest.raises(ApiError) as err:
        asyncio.run(read_body(trickle, None, timeout=1, deadline=0.5))
    assert err.value.status == 408
    assert "still sending after 0.5 s" in err.value.message


def test_a_client_gone_midway():
    with pytest.raises(ClientDisconnected):
        asyncio.run(read_body(feed(body(b"{", True), {"type": "http.disconnect"}), "10"))


def test_the_limit_counts_what_arrives_when_no_length_was_given():
    with pytest.raises(ApiError) as err:
        asyncio.run(read_body(feed(body(b"x" * 600, True), body(b"x" * 600)), None, limit=1000))
    assert err.value.status == 413
    assert err.value.close


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"   ", "empty"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"a": }', "not valid JSON"),
        (b'"just text"', "must be a JSON object"),
        (b'{"\\ud800": 1}', "field name"),
        (b'{"a": {"b": ["\\udfff"]}}', "a.b[0] holds a lone UTF-16 surrogate"),
    ],
)
def test_bodies_that_are_not_a_json_object_of_text(raw, needle):
    with pytest.raises(ApiError) as err:
        decode_json(raw)
    assert err.value.status == 400
    assert needle in err.value.message


def test_surrogate_pairs_are_fine():
    assert decode_json(b'{"emoji": "\\ud83d\\ude00"}') == {"emoji": "\U0001f600"}


def test_a_refused_body_is_drained_before_the_answer():
    sent = [body(b"x" * 1000, True) for _ in range(5)] + [body(b"x" * 100)]

    async def receive() -> dict:
        return sent.pop(0)

    with pytest.raises(ApiError) as err:
        asyncio.run(read_body(receive, "5100", limit=1000))
    assert err.value.status == 413
    assert not sent  # every piece was read (and dropped), so the client can read the 413

"""Localhost safety: web pages the user visits cannot use the server (no CSRF, no DNS
rebinding) unless CORS lets them; with an API key the key decides."""

from __future__ import annotations

import json

import pytest

from app.server.guard import AccessPolicy, check_request, host_of, is_loopback_host
from app.server.records import RequestRecord
from tests.server.conftest import call, chat_body


def test_a_dns_rebinding_request_is_refused(server):
    # attacker.example resolved to 127.0.0.1: the browser connects here but names its own host
    status, body, _ = call(
        server, "POST", "/v1/chat/completions", chat_body(), headers={"Host": "attacker.example:1234"}
    )
    assert status == 403
    assert body["error"]["code"] == "forbidden_host"
    assert "DNS rebinding" in body["error"]["message"]
    status, body, _ = call(server, "GET", "/v1/models", headers={"Host": "attacker.example"})
    assert status == 403  # not even the list of models
    assert server.runtime.loaded() == []  # nothing was generated


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:1234", "127.0.0.1", "127.0.0.1:80", "[::1]:1234", "LOCALHOST."]
)
def test_loopback_host_names_are_fine(server, host):
    assert call(server, "GET", "/v1/models", headers={"Host": host})[0] == 200


@pytest.mark.parametrize(
    "host", ["0.0.0.0:1234", "192.168.1.10", "evil.localhost.example", "[::]:1234", "10.0.0.1:1234"]
)
def test_other_host_names_are_refused(server, host):
    assert call(server, "GET", "/v1/models", headers={"Host": host})[0] == 403


def test_a_browser_style_cross_origin_post_is_refused(server):
    # what a page on another site can send without a preflight: a "simple" text/plain POST
    payload = json.dumps(chat_body()).encode()
    status, body, headers = call(
        server,
        "POST",
        "/v1/chat/completions",
        raw=payload,
        headers={"Origin": "http://attacker.example", "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert status == 403
    assert body["error"]["code"] == "forbidden_origin"
    assert "access-control-allow-origin" not in headers
    # the same page asking first (a preflight for a JSON POST) is refused too
    status, body, _ = call(
        server,
        "OPTIONS",
        "/v1/chat/completions",
        headers={"Origin": "http://attacker.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 403
    assert server.runtime.loaded() == []


def test_a_form_post_from_this_computer_still_needs_json(server):
    payload = json.dumps(chat_body()).encode()
    for media in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        status, body, _ = call(
            server, "POST", "/v1/chat/completions", raw=payload, headers={"Content-Type": media}
        )
        assert status == 415, media
        assert body["error"]["code"] == "unsupported_media_type", media
    ok = call(
        server,
        "POST",
        "/v1/chat/completions",
        raw=payload,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok[0] == 200


def test_pages_on_this_computer_may_use_it_and_read_the_reply(server):
    origin = "http://localhost:3000"
    status, _, headers = call(server, "OPTIONS", "/v1/chat/completions", headers={"Origin": origin})
    assert status == 204
    assert headers["access-control-allow-origin"] == origin
    assert "POST" in headers["access-control-allow-methods"]
    assert "Content-Type" in headers["access-control-allow-headers"]
    status, _, headers = call(server, "POST", "/v1/chat/completions", chat_body(), headers={"Origin": origin})
    assert status == 200
    assert headers["access-control-allow-origin"] == origin
    assert headers["vary"] == "Origin"


def test_cors_opt_in_adds_origins(make_server):
    listed = make_server(cors_origins=("https://app.example.org",))
    ok = call(listed, "GET", "/v1/models", headers={"Origin": "https://app.example.org"})
    assert ok[0] == 200
    assert ok[2]["access-control-allow-origin"] == "https://app.example.org"
    assert call(listed, "GET", "/v1/models", headers={"Origin": "https://other.example.org"})[0] == 403
    anyone = make_server(cors=True)
    ok = call(anyone, "GET", "/v1/models", headers={"Origin": "https://other.example.org"})
    assert ok[0] == 200
    assert ok[2]["access-control-allow-origin"] == "*"
    # the Host check stays: CORS lets pages call 127.0.0.1, not other names that point here
    assert call(anyone, "GET", "/v1/models", headers={"Host": "attacker.example"})[0] == 403


def test_no_cors_headers_without_an_origin(server):
    _, _, headers = call(server, "GET", "/v1/models")
    assert "access-control-allow-origin" not in headers


def test_refusals_are_logged(server):
    call(server, "GET", "/v1/models", headers={"Host": "attacker.example"})
    record = server.requests()[-1]
    assert isinstance(record, RequestRecord)
    assert record.status == 403
    assert "Host" in (record.error or "")


def test_the_policy_on_its_own():
    assert is_loopback_host("127.9.9.9")
    assert is_loopback_host("[::1]")
    assert not is_loopback_host("0.0.0.0")
    assert host_of("[::1]:1234") == "::1"
    assert host_of("localhost:80") == "localhost"
    assert host_of("::1") == "::1"
    policy = AccessPolicy(api_key="k")
    scope = {
        "type": "http",
        "method": "GET",
        "headers": [(b"host", b"x.example"), (b"authorization", b"Bearer k")],
    }
    check_request(policy, scope)  # with a key, any Host
    assert policy.key_matches("bearer k")
    assert not policy.key_matches("Bearer kk")
    assert not policy.key_matches("k")
    assert AccessPolicy().origin_allowed("https://127.0.0.1:8443")
    assert not AccessPolicy().origin_allowed("null")

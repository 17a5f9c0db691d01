"""What a model server offers: its models (`/v1/models`), what kind of server it is, and, for
another Specula, the drafts its library has for a model.

Every request has a deadline, so listing servers never holds up anything for longer than the
timeout: a server that does not answer becomes a problem row ("unreachable"), its models
(remembered from the last listing) are shown offline. The kind is read from what the server
returns: `owned_by` says llamacpp, vllm or sglang; another Specula names itself at its root
(`GET /`); anything else is a plain OpenAI-compatible server.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx

from app.library.entry import REMOTE, ModelEntry, RemoteInfo
from app.library.server_keys import read_key
from app.library.servers import RemoteServer

LIST_TIMEOUT = 4.0  # seconds for one server's whole listing
SPECULA_NAME = "Specula"  # how another Specula names itself at its root (GET /)


class ServerKind(str, Enum):
    SPECULA = "specula"
    LLAMA_CPP = "llama.cpp"
    VLLM = "vllm"
    SGLANG = "sglang"
    OPENAI = "openai"

    @property
    def label(self) -> str:
        return KIND_TITLES[self]


KIND_TITLES = {
    ServerKind.SPECULA: "Specula",
    ServerKind.LLAMA_CPP: "llama.cpp server",
    ServerKind.VLLM: "vLLM",
    ServerKind.SGLANG: "SGLang",
    ServerKind.OPENAI: "OpenAI-compatible",
}
OWNED_BY = {"llamacpp": ServerKind.LLAMA_CPP, "vllm": ServerKind.VLLM, "sglang": ServerKind.SGLANG}


def kind_of(text: str) -> ServerKind:
    try:
        return ServerKind(text)
    except ValueError:
        return ServerKind.OPENAI


class ServerError(Exception):
    """A server refused, failed or could not be reached; the text is the server's own message
    where it sent one."""


def auth_headers(server: str, has_key: bool) -> dict[str, str]:
    """The Authorization header for a server with a key (read from the keyring: raises
    KeyringUnavailableError where there is none; ServerError when its key is missing)."""
    if not has_key:
        return {}
    key = read_key(server)
    if not key:
        raise ServerError(
            f"the API key of server {server} is not in the system keyring: add the server again"
        )
    return {"Authorization": f"Bearer {key}"}


def error_message(response: httpx.Response) -> str:
    """What the server said went wrong: OpenAI's {"error": {"message"}}, {"error": "..."},
    {"detail": ...}, {"message": ...}, else its text (first line), else the status."""
    try:
        body: Any = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, httpx.ResponseNotRead):
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        message = message or body.get("detail") or body.get("message")
    if not message:
        try:
            text = response.text.strip()
        except httpx.ResponseNotRead:
            text = ""
        message = text.splitlines()[0][:300] if text else response.reason_phrase or "no reason given"
    return f"{message} (HTTP {response.status_code})"


def failure_text(exc: Exception, timeout: float) -> str:
    """A failed request in words: unreachable, timed out, refused the key..."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        why = str(exc) or "connection failed"
        return f"unreachable ({why})"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__}: {exc}"
    return str(exc)


@dataclass
class ServerListing:
    server: RemoteServer
    kind: ServerKind = ServerKind.OPENAI
    models: list[dict[str, Any]] = field(default_factory=list)  # what remote_entry reads
    problem: str | None = None  # why it could not be listed

    @property
    def online(self) -> bool:
        return self.problem is None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise httpx.TimeoutException("deadline passed")
        return left


def _get(client: httpx.Client, path: str, deadline: _Deadline) -> httpx.Response:
    return client.get(path, timeout=deadline.left())


def _json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise ServerError(error_message(response))
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServerError(f"{response.request.url} did not answer JSON") from None


def list_server(
    server: RemoteServer, timeout: float = LIST_TIMEOUT, api_key: str | None = None
) -> ServerListing:
    """The server's models and kind, within `timeout` seconds in all. `api_key`: a key not
    kept yet (a server being added is asked before its key goes to the keyring)."""
    listing = ServerListing(server)
    deadline = _Deadline(timeout)
    try:
        headers = (
            {"Authorization": f"Bearer {api_key}"} if api_key else auth_headers(server.name, server.has_key)
        )
        with httpx.Client(base_url=server.url, headers=headers, timeout=timeout) as client:
            data = _json(_get(client, "/v1/models", deadline))
            cards = data.get("data") if isinstance(data, dict) else None
            if not isinstance(cards, list):
                raise ServerError('/v1/models did not list models (no "data" list)')
            cards = [c for c in cards if isinstance(c, dict) and isinstance(c.get("id"), str)]
            listing.kind = _kind(client, cards, deadline)
            details = _specula_details(client, deadline) if listing.kind is ServerKind.SPECULA else {}
            listing.models = [_model_fields(card, details.get(card["id"], {})) for card in cards]
    except Exception as exc:  # a listing never fails the scan: it is a problem row
        listing.problem = failure_text(exc, timeout)
    return listing


def _kind(client: httpx.Client, cards: list[dict[str, Any]], deadline: _Deadline) -> ServerKind:
    for card in cards:
        kind = OWNED_BY.get(str(card.get("owned_by", "")).lower())
        if kind is not None:
            return kind
    try:
        response = _get(client, "/", deadline)
        name = response.json().get("name", "") if response.status_code == 200 else ""
    except (httpx.TimeoutException, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        name = ""
    return ServerKind.SPECULA if str(name).startswith(SPECULA_NAME) else ServerKind.OPENAI


def _specula_details(client: httpx.Client, deadline: _Deadline) -> dict[str, dict[str, Any]]:
    """Another Specula's library details (architecture, quantization, context), by model id."""
    try:
        data = _json(_get(client, "/api/v0/models", deadline))
    except (ServerError, httpx.TimeoutException):
        return {}
    rows = data.get("data") if isinstance(data, dict) else None
    return {r["id"]: r for r in rows or [] if isinstance(r, dict) and isinstance(r.get("id"), str)}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _model_fields(card: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """What is kept of one model: its id and what the server says of it (llama-server's
    `meta`, another Specula's /api/v0 row)."""
    meta = card.get("meta") if isinstance(card.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    quant = rest.get("quantization")
    arch = rest.get("arch")
    return {
        "id": card["id"],
        "arch": arch if isinstance(arch, str) else "",
        "params": _int(rest.get("parameters")) or _int(meta.get("n_params")) or 0,
        "quant": quant if isinstance(quant, str) else None,
        "size": _int(meta.get("size")) or 0,
        "ctx": _int(rest.get("max_context_length"))
        or _int(card.get("max_model_len"))
        or _int(meta.get("n_ctx_train")),
    }


def remote_entry(
    server: RemoteServer, kind: ServerKind, fields: dict[str, Any], online: bool, detail: str = ""
) -> ModelEntry:
    """A model on a server as the library lists it: `<server name>/<model>`, engine remote."""
    model_id = str(fields["id"])
    key = f"{server.name}/{model_id}"
    quant, arch = fields.get("quant"), fields.get("arch")
    return ModelEntry(
        key=key,
        name=key,
        engine=REMOTE,
        architecture=arch if isinstance(arch, str) else "",
        parameter_count=_int(fields.get("params")) or 0,
        quantization=quant if isinstance(quant, str) else None,
        size_bytes=_int(fields.get("size")) or 0,
        context_length=_int(fields.get("ctx")),
        path=f"{server.url}/v1/models/{model_id}",
        vocab_json={},
        source=server.name,
        remote=RemoteInfo(
            server.name,
            server.url,
            model_id,
            kind.value,
            online,
            detail,
            server.has_key,
            _int(fields.get("ctx")) or 0,
        ),
    )


@dataclass(frozen=True)
class ServerDraft:
    """A draft another Specula offers for one of its models."""

    model_id: str
    translated: bool = False
    recommended: bool = False
    note: str = ""


def specula_drafts(info: RemoteInfo, timeout: float = LIST_TIMEOUT) -> list[ServerDraft]:
    """The drafts another Specula's library has for `info`'s model (its compatibility index);
    ServerError when it cannot say."""
    deadline = _Deadline(timeout)
    try:
        headers = auth_headers(info.server, info.has_key)
        with httpx.Client(base_url=info.url, headers=headers, timeout=timeout) as client:
            data = _json(_get(client, f"/api/v0/drafts/{info.model_id}", deadline))
    except httpx.HTTPError as exc:
        raise ServerError(failure_text(exc, timeout)) from None
    rows = data.get("data") if isinstance(data, dict) else None
    return [
        ServerDraft(
            r["id"],
            r.get("verdict") == "translated",
            r.get("recommended") is True,
            str(r.get("note") or ""),
        )
        for r in rows or []
        if isinstance(r, dict) and isinstance(r.get("id"), str)
    ]

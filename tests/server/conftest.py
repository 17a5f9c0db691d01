"""A real server on 127.0.0.1 (port 0) over the tiny generated models, and ways to talk to it:
http.client for ordinary requests, raw sockets for what no well-behaved client sends."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.library.paths import models_dir
from app.runtime import ModelRuntime
from app.server.config import ServerConfig
from app.server.records import RequestRecord, ServerNote
from app.server.serving import LocalServer
from tests.model_factory import tiny_vocab, write_tiny_gguf

MAIN, TWIN, NOISY, OTHER = (
    "test/tiny/main.gguf",
    "test/tiny/twin.gguf",
    "test/tiny/noisy.gguf",
    "test/tiny/other.gguf",
)
WORDS = "test/tiny/words.gguf"  # greedy replies are plain text: "abcdefghijklmnopqrstuvwxyzabc..."
ENDS = "test/tiny/ends.gguf"  # greedy replies end by themselves: "...abcde", then the end of the turn

_VOCAB = tiny_vocab()
_LETTERS = [_VOCAB.index(c) for c in "abcdefghijklmnopqrstuvwxyz"]


def words_successor(token: int) -> int:
    """Each letter leads to the next (a cycle); anything else to "a". Text of single letters
    tokenizes back into the same tokens, so a reply's text can serve as its prediction."""
    if token in _LETTERS:
        return _LETTERS[(_LETTERS.index(token) + 1) % len(_LETTERS)]
    return _LETTERS[0]


@pytest.fixture(scope="session")
def words_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("words-model")
    return write_tiny_gguf(folder / "words.gguf", seed=5, successor=words_successor)


def ends_successor(token: int) -> int:
    """Like words_successor, but "e" is followed by the end of the turn."""
    return 2 if token == _LETTERS[4] else words_successor(token)


@pytest.fixture(scope="session")
def ends_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ends-model")
    return write_tiny_gguf(folder / "ends.gguf", seed=5, successor=ends_successor)


@pytest.fixture
def library(tiny_main: Path, tiny_twin: Path, tiny_noisy: Path, words_model: Path, ends_model: Path) -> Path:
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(words_model, folder / "words.gguf")
    shutil.copy(ends_model, folder / "ends.gguf")
    shutil.copy(tiny_main, folder / "main.gguf")
    shutil.copy(tiny_twin, folder / "twin.gguf")
    shutil.copy(tiny_noisy, folder / "noisy.gguf")
    write_tiny_gguf(folder / "other.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))
    return folder


class Served:
    """A started LocalServer and what it logged."""

    def __init__(self, server: LocalServer, records: list[RequestRecord | ServerNote]) -> None:
        self.server = server
        self.records = records

    @property
    def runtime(self) -> ModelRuntime:
        return self.server.runtime

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    def requests(self) -> list[RequestRecord]:
        return [r for r in self.records if isinstance(r, RequestRecord)]


@pytest.fixture
def make_server(library: Path) -> Iterator[Callable[..., Served]]:
    started: list[LocalServer] = []

    def make(runtime: ModelRuntime | None = None, **config: Any) -> Served:
        records: list[RequestRecord | ServerNote] = []
        server = LocalServer(ServerConfig(port=0, **config), runtime=runtime, on_log=records.append)
        server.start()
        started.append(server)
        return Served(server, records)

    yield make
    for server in started:
        server.stop()
        server.runtime.close()  # a shared runtime too (a server only closes its own)


@pytest.fixture
def server(make_server: Callable[..., Served]) -> Served:
    return make_server()


def call(
    srv: Served,
    method: str,
    path: str,
    body: object = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    parsed = json.loads(text) if text.startswith("{") else {"raw": text}
    return resp.status, parsed, {k.lower(): v for k, v in resp.getheaders()}


def chat_body(**extra: object) -> dict[str, Any]:
    return {
        "model": MAIN,
        "messages": [{"role": "user", "content": "the cat"}],
        "max_tokens": 16,
        "temperature": 0,
        "repeat_penalty": 1.0,
        **extra,
    }


def sse_events(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


# --- raw sockets ------------------------------------------------------------------------------
def connect(srv: Served, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)


def read_response(
    sock: socket.socket, timeout: float = 10, head: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One whole response (Content-Length or until the server closes; no body after HEAD)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    if head:
        return status, headers, body
    if "content-length" in headers:
        while len(body) < int(headers["content-length"]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    else:
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            body += chunk
    return status, headers, body


def raw_exchange(
    srv: Served, payload: bytes, timeout: float = 10
) -> tuple[int, dict[str, str], bytes, float]:
    """Send bytes as they are; the response and how long it took."""
    with connect(srv, timeout) as sock:
        t0 = time.monotonic()
        sock.sendall(payload)
        status, headers, body = read_response(sock, timeout)
        return status, headers, body, time.monotonic() - t0


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closes this connection within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


# --- the real pair: Gemma 3 270M in F16 (derived) drafted for by the bundled Q4_K_M ----------
GEMMA = "specula/gemma-3-270m-f16/gemma-3-270m-f16.gguf"
GEMMA_DRAFT = "google/gemma-3-270m/gemma-3-270m-q4_k_m.gguf"
DRAFTING = {"draft_max": 4, "draft_p_min": 0.0, "draft_auto": False}  # drafts every round


@pytest.fixture
def gemma_server(make_server: Callable[..., Served]) -> Served:
    """A server whose library holds the real pair (hard links to the shared test copies: the
    batch-verified F16 twin gives the plain greedy reply token for token)."""
    from tests.model_factory import gemma_f16_twin, gemma_q4

    for key, source in ((GEMMA, gemma_f16_twin()), (GEMMA_DRAFT, gemma_q4())):
        target = models_dir() / key
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            target.hardlink_to(source)
        except OSError:  # another file system
            shutil.copy(source, target)
    return make_server()


def draft_counts_add_up(stats: dict[str, Any]) -> bool:
    parts = ("accepted", "rejected", "ignored")
    return stats["total_draft_tokens_count"] == sum(stats[f"{p}_draft_tokens_count"] for p in parts)


def sse_named(text: str) -> list[tuple[str | None, Any]]:
    """Server-sent events as (event name, JSON data)."""
    out: list[tuple[str | None, Any]] = []
    for block in text.split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            out.append((name, data))
    return out

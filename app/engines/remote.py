"""A model served by another machine, behind the same interface as a loaded model: `generate`
streams TokenEvents, then one GenerationResult.

The conversation goes to the server as messages (the server applies the chat template), over
httpx with server-sent events. Stop closes the stream, which cancels the reply on the server.
Sampling settings are mapped to the fields each kind of server reads; another Specula also
gets the draft chosen here (`draft_model`) and the draft settings. A refused request raises
with the server's own message before the first event; an error midway ends the reply with it.
What the reply says of speculation is read by app/engines/remote_reports.py: per-token draft
flags (another Specula) colour tokens green; counts and rounds go to the stats.

Time to first token and tokens per second are measured here, as the tokens arrive (the one
definition, `decode_rate`): what the person at this computer waits for.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import httpx

from app.core.errors import ModelLoadError, SpeculaError
from app.core.events import GenerationResult, GenerationStats, StopReason, StreamItem, TokenEvent, TokenOrigin
from app.core.request import GenerationRequest
from app.engines.drafting import DraftSource
from app.engines.prompt_reading import CancelFlag
from app.engines.remote_reports import Piece, ReplyReport
from app.library.entry import REMOTE, RemoteInfo
from app.library.server_listing import (
    LIST_TIMEOUT,
    ServerError,
    ServerKind,
    auth_headers,
    error_message,
    failure_text,
    kind_of,
)

CONNECT_TIMEOUT = 10.0  # seconds to reach the server and send the request
READ_TIMEOUT = 600.0  # seconds between two chunks (a long prompt is read before the first)
POLL = 0.05  # how often a waiting reply looks at its Stop flag
NO_ID = -1  # a server sends text, not token ids


class RemoteServerError(SpeculaError):
    """The server refused or failed the request; the text is its own message."""


class RemoteModel:
    """One model on a server. Shared like a loaded model (the runtime leases it); `drafting`
    gives the same model with the draft a lease chose (sent with each request)."""

    engine = REMOTE

    def __init__(self, info: RemoteInfo, draft: str | None = None) -> None:
        self.info = info
        self.kind = kind_of(info.kind)
        self.n_ctx = info.context  # the server's, when it says (0 when not); it applies it itself
        self.draft = draft  # the server's name of the draft (another Specula only); None: none
        self.lock = threading.Lock()

    # --- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.info.server}/{self.info.model_id}"

    @property
    def path(self) -> Path:
        return Path(self.info.url)

    @classmethod
    def open(cls, info: RemoteInfo, timeout: float = LIST_TIMEOUT) -> RemoteModel:
        """Check that the server answers and serves the model (ModelLoadError with its message
        when not); nothing is loaded here."""
        try:
            headers = auth_headers(info.server, info.has_key)
            response = httpx.get(f"{info.url}/v1/models", headers=headers, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ModelLoadError(f"server {info.server}: {failure_text(exc, timeout)}") from None
        except ServerError as exc:
            raise ModelLoadError(str(exc)) from None
        if response.status_code != 200:
            raise ModelLoadError(f"server {info.server} refused: {error_message(response)}")
        try:
            ids = {m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)}
        except (ValueError, AttributeError):
            raise ModelLoadError(f"server {info.server} did not list its models") from None
        if info.model_id not in ids:
            raise ModelLoadError(f"server {info.server} no longer serves {info.model_id}")
        return cls(info)

    def drafting(self, draft: str | None) -> RemoteModel:
        """This model with a draft chosen per request (another Specula's model key, its
        prompt lookup, or both chained); other servers draft as they were started."""
        return RemoteModel(self.info, draft if self.kind is ServerKind.SPECULA else None)

    def close(self) -> None:
        """Nothing is held between replies: each has its own connection."""

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:  # noqa: ARG002 (the models' signature)
        raise SpeculaError(f"{self.name} is on another server: its tokens are not known here")

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:  # noqa: ARG002 (the models' signature)
        raise SpeculaError(f"{self.name} is on another server: its tokens are not known here")

    def truncate(self, n: int) -> None:
        """The server keeps its own cache."""

    # --- a request --------------------------------------------------------------------------
    def _body(self, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        s = request.sampling
        body: dict[str, Any] = {
            "model": self.info.model_id,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": s.temperature,
            "top_p": s.top_p,
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if request.stop:
            body["stop"] = list(request.stop)
        kind = self.kind
        if kind is not ServerKind.OPENAI:  # every server we know reads these
            body.update(top_k=s.top_k, min_p=s.min_p)
        if kind in (ServerKind.SPECULA, ServerKind.LLAMA_CPP):
            body["repeat_penalty"] = s.repeat_penalty
        elif kind in (ServerKind.VLLM, ServerKind.SGLANG):
            body["repetition_penalty"] = s.repeat_penalty
        if kind is ServerKind.SGLANG:
            body["return_spec_tokens_details"] = True
        if kind is ServerKind.SPECULA:
            d = request.draft
            body.update(
                draft_model=self.draft or "",
                draft_auto=d.auto,
                draft_max=d.max_draft_size,
                draft_min=d.min_draft_size,
                draft_p_min=d.p_min,
            )
        chat = request.prompt is None
        if chat:
            body["messages"] = [{"role": m.role.value, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = request.prompt
        api = "/api/v0" if kind is ServerKind.SPECULA else "/v1"  # /api/v0 adds the stats
        return f"{api}/{'chat/completions' if chat else 'completions'}", body

    def generate(
        self,
        request: GenerationRequest,
        draft: DraftSource | None = None,
        cancel: CancelFlag | None = None,
    ) -> Generator[StreamItem, None, None]:
        """Stream a reply. The server's refusal (a bad value, a prompt longer than its context,
        a wrong key) raises RemoteServerError with its message, before the first event. `draft`
        must be None: a server drafts with its own models (`drafting`)."""
        request.validate()
        if draft is not None:
            raise SpeculaError(f"{self.name} drafts on its server; a draft here cannot draft for it")
        path, body = self._body(request)
        started = time.perf_counter()
        try:
            headers = auth_headers(self.info.server, self.info.has_key)
        except ServerError as exc:
            raise RemoteServerError(str(exc)) from None
        client = httpx.Client(
            base_url=self.info.url,
            headers=headers,
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        )
        try:
            response = client.send(client.build_request("POST", path, json=body), stream=True)
        except httpx.HTTPError as exc:
            client.close()
            raise RemoteServerError(
                f"server {self.info.server}: {failure_text(exc, CONNECT_TIMEOUT)}"
            ) from None
        if response.status_code != 200:
            with contextlib.suppress(httpx.HTTPError):
                response.read()
            message = error_message(response)
            response.close()
            client.close()
            raise RemoteServerError(f"{self.info.server}: {message}")
        return self._stream(client, _LineReader(response), started, cancel)

    def _stream(
        self,
        client: httpx.Client,
        lines: _LineReader,
        started: float,
        cancel: CancelFlag | None,
    ) -> Generator[StreamItem, None, None]:
        report = ReplyReport(self.kind)
        texts: list[str] = []
        first: float | None = None
        last = started
        count = 0
        rounds_done = 0  # verify steps ended (by the main model's own token), from the draft flags
        cancelled = False
        try:
            for line in lines.lines(cancel):
                if line is None:  # Stop
                    cancelled = True
                    break
                chunk = _sse_data(line)
                if chunk is _DONE:
                    break
                for piece in report.read(chunk):
                    now = time.perf_counter()
                    first = now if first is None else first
                    last = now
                    round_ = 0 if count == 0 else rounds_done + 1
                    if not piece.draft and count > 0:
                        rounds_done += 1
                    count += 1
                    texts.append(piece.text)
                    yield _token(piece, round_)
                if report.error:
                    break
        except httpx.HTTPError as exc:
            report.error = f"the connection to {self.info.server} broke: {failure_text(exc, READ_TIMEOUT)}"
        finally:
            lines.close()
            client.close()
        stats = GenerationStats(
            time_to_first_token=(first - started) if first is not None else 0.0,
            prompt_tokens_count=report.prompt_tokens or 0,
            predicted_tokens_count=report.completion_tokens
            if report.completion_tokens is not None
            else count,
        )
        stats.set_speed(last - first if first is not None else 0.0)
        report.apply(stats)
        stats.stop_reason = StopReason.CANCELLED if cancelled else report.stop_reason()
        yield GenerationResult("".join(texts), stats, None if cancelled else report.error)


_DONE = object()


def _sse_data(line: str) -> Any:
    """The JSON of a `data:` line; _DONE for `data: [DONE]`; None for anything else."""
    if not line.startswith("data:"):
        return None
    payload = line[5:].strip()
    if payload == "[DONE]":
        return _DONE
    try:
        return json.loads(payload)
    except json.JSONDecodeError:
        return None


def _token(piece: Piece, round_: int) -> TokenEvent:
    origin = TokenOrigin.DRAFT if piece.draft else TokenOrigin.MAIN
    return TokenEvent(NO_ID, piece.text, origin, round_)


class _LineReader:
    """Reads the response's lines on a thread of its own, so a reply waiting for the server
    still sees Stop at once: closing the response (Stop, or the consumer going away) ends the
    read, and the server sees the connection close."""

    _END = object()

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.queue: queue.Queue[object] = queue.Queue()
        self.thread = threading.Thread(target=self._read, name="remote-reply", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                self.queue.put(line)
        except Exception as exc:  # handed to the reply (a closed response ends it too)
            self.queue.put(exc)
        self.queue.put(self._END)

    def lines(self, cancel: CancelFlag | None) -> Iterator[str | None]:
        """Each line as it comes; None once `cancel` is set."""
        while True:
            if cancel is not None and cancel.is_set():
                yield None
                return
            try:
                item = self.queue.get(timeout=POLL)
            except queue.Empty:
                continue
            if item is self._END:
                return
            if isinstance(item, httpx.HTTPError):
                raise item
            if isinstance(item, Exception):
                raise httpx.ReadError(str(item))
            assert isinstance(item, str)
            yield item

    def close(self) -> None:
        """Shut the connection down (a read blocked in the reader thread wakes up at once; a
        plain close would wait for the server's next chunk), then close the response."""
        stream = self.response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.response.close()
        self.thread.join(timeout=5)

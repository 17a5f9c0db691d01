"""One SDK connection: a websocket for one namespace (`/llm`, `/system`, ...), JSON messages.

    client: {authVersion: 1, clientIdentifier, clientPasskey}   server: {success: true}
    client: {type: "rpcCall", endpoint, callId, parameter}     server: rpcResult / rpcError
    client: {type: "channelCreate", endpoint, channelId, creationParameter}
            {type: "channelSend", channelId, message: {type: "cancel"}}
                                                  server: channelSend... channelClose / channelError
    client: {type: "keepAlive"}                                server: {type: "keepAliveAck"}

Every call runs as its own task, so a long prediction does not hold up a listLoaded on the
same socket. When the socket closes, every task of the connection is cancelled (a prediction
in progress stops, as when an HTTP client disconnects). With an API key the auth packet must
carry it: as the clientPasskey, as a whole LM Studio API token `sk-lm-ID:PASSKEY`, or as
`Authorization: Bearer` on the websocket's HTTP request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from app.server.body import decode_json
from app.server.errors import ApiError
from app.server.guard import AccessPolicy, Receive, Send
from app.server.lmstudio_sdk.channel import Channel
from app.server.lmstudio_sdk.context import SdkServer
from app.server.lmstudio_sdk.loading import get_or_load
from app.server.lmstudio_sdk.models import sdk_error
from app.server.lmstudio_sdk.predict import Prediction
from app.server.lmstudio_sdk.wire import SdkError

log = logging.getLogger(__name__)

MAX_ID = 256  # characters in a client identifier or passkey (the SDK's own limit)
MAX_OPEN = 64  # calls and channels in progress on one connection
POLICY_VIOLATION = 1008  # websocket close code: authentication failed
SERVED = {"llm", "system", "embedding"}  # the other namespaces answer every call with an error

Handler = Callable[[Any], Awaitable[Any]]


class Session:
    def __init__(
        self,
        server: SdkServer,
        namespace: str,
        client: str,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        self.server, self.namespace, self.client = server, namespace, client
        key, bearer = server.config.api_key, headers.get("authorization")
        # the key may come on the websocket's own HTTP request (a client that can set headers)
        self.bearer_ok = bool(key) and bearer is not None and AccessPolicy(key).key_matches(bearer)
        # LM Studio refuses an auth packet with `error` as text, which @lmstudio/sdk reads; the
        # Python SDK (on httpx) reads it as a serialized error, and fails on text
        self.error_as_object = headers.get("user-agent", "").startswith("python-httpx/")
        self._receive, self._send = receive, send
        self._send_lock = asyncio.Lock()
        self._channels: dict[int, Channel] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        models = server.models
        self._rpcs: dict[str, Handler] = {}
        if namespace == "llm":
            self._rpcs = {
                "listLoaded": lambda _p: asyncio.to_thread(models.list_loaded),
                "getModelInfo": self._model_info,
                "getLoadConfig": self._load_config,
                "unloadModel": self._unload,
                "tokenize": self._tokenize,
                "countTokens": self._count_tokens,
            }
        elif namespace == "embedding":
            self._rpcs = {"listLoaded": self._no_embeddings}
        elif namespace == "system":
            self._rpcs = {"listDownloadedModels": lambda _p: asyncio.to_thread(models.list_downloaded)}

    # --- the socket ---------------------------------------------------------------------------
    async def send_json(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, ensure_ascii=False, allow_nan=False)
        async with self._send_lock:
            await self._send({"type": "websocket.send", "text": text})

    async def _next(self, timeout: float | None = None) -> Any:
        """The next JSON message; None when the client left. Malformed text gets a warning."""
        while True:
            message = await asyncio.wait_for(self._receive(), timeout)
            if message["type"] == "websocket.disconnect":
                return None
            if message["type"] != "websocket.receive":
                continue
            raw = message.get("bytes") or (message.get("text") or "").encode("utf-8")
            try:
                return decode_json(raw)
            except ApiError as err:
                await self._warn(f"not a JSON message: {err.message}", "unknown")

    async def _warn(self, warning: str, kind: str) -> None:
        await self.send_json({"type": "communicationWarning", "warning": warning, "kind": kind})

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self._send({"type": "websocket.close", "code": code})

    # --- life ---------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            if await self._authenticate():
                await self._serve()
        except (asyncio.TimeoutError, ConnectionError, OSError):
            await self._close(POLICY_VIOLATION)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    def _key_ok(self, identifier: str, passkey: str) -> bool:
        key = self.server.config.api_key
        if not key or self.bearer_ok:
            return True
        wanted = key.encode("utf-8")
        token = f"sk-lm-{identifier}:{passkey}".encode()
        return hmac.compare_digest(passkey.encode("utf-8"), wanted) | hmac.compare_digest(token, wanted)

    async def _authenticate(self) -> bool:
        packet = await self._next(self.server.config.head_timeout)
        if packet is None:
            return False
        ident, passkey = packet.get("clientIdentifier"), packet.get("clientPasskey")
        error = None
        if packet.get("authVersion") != 1 or not isinstance(ident, str) or not isinstance(passkey, str):
            error = "the first message must be {authVersion: 1, clientIdentifier, clientPasskey}"
        elif len(ident) > MAX_ID or len(passkey) > MAX_ID:
            error = f"clientIdentifier and clientPasskey are at most {MAX_ID} characters"
        elif not self._key_ok(ident, passkey):
            error = (
                "missing or wrong API key: this server needs its key as the clientPasskey (or as an "
                "LM Studio API token sk-lm-ID:PASSKEY, or an Authorization: Bearer header)"
            )
        if error is None:
            await self.send_json({"success": True})
            return True
        reason: Any = SdkError(error, 401).serialized() if self.error_as_object else error
        await self.send_json({"success": False, "error": reason})
        await self._close(POLICY_VIOLATION)
        return False

    async def _serve(self) -> None:
        while (message := await self._next()) is not None:
            kind = message.get("type")
            if kind == "keepAlive":
                await self.send_json({"type": "keepAliveAck"})
            elif kind == "rpcCall":
                await self._on_rpc(message)
            elif kind == "channelCreate":
                await self._on_channel(message)
            elif kind == "channelSend":
                cid = message.get("channelId")
                channel = self._channels.get(cid) if isinstance(cid, int) else None
                if channel is not None:  # a cancel can cross the channel's end: nothing to do
                    channel.receive(message.get("message"))
            elif kind in ("signalSubscribe", "writableSignalSubscribe"):
                err = SdkError(f"signals ({message.get('endpoint')}) are not supported by this server")
                reply = "signalError" if kind == "signalSubscribe" else "writableSignalError"
                await self.send_json(
                    {"type": reply, "subscribeId": message.get("subscribeId"), "error": err.serialized()}
                )
            elif kind == "communicationWarning":
                log.warning("SDK client warning: %s", message.get("warning"))
            elif kind not in ("channelAck", "signalUnsubscribe", "writableSignalUnsubscribe"):
                await self._warn(f"unknown message type {kind!r}", "unknown")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _unserved(self, what: str) -> SdkError:
        if self.namespace not in SERVED:
            return SdkError(f"the /{self.namespace} namespace is not served by this server", 404)
        return SdkError(f"{what} is not supported by this server", 404)

    # --- remote calls -------------------------------------------------------------------------
    async def _on_rpc(self, message: dict[str, Any]) -> None:
        call_id, endpoint = message.get("callId"), message.get("endpoint")
        if not isinstance(call_id, int) or not isinstance(endpoint, str):
            await self._warn("rpcCall needs an integer callId and an endpoint", "rpcParameterTypeError")
            return

        async def answer() -> None:
            try:
                if len(self._tasks) > MAX_OPEN:
                    raise SdkError(f"more than {MAX_OPEN} calls at once on one connection", 429)
                handler = self._rpcs.get(endpoint)
                if handler is None:
                    raise self._unserved(f"the RPC endpoint {endpoint!r} of /{self.namespace}")
                result = await handler(message.get("parameter"))
            except Exception as exc:
                err = sdk_error(exc)
                error = err if isinstance(err, SdkError) else SdkError(str(err))
                await self.send_json({"type": "rpcError", "callId": call_id, "error": error.serialized()})
                return
            reply: dict[str, Any] = {"type": "rpcResult", "callId": call_id}
            if result is not None:
                reply["result"] = result
            await self.send_json(reply)

        self._spawn(answer())

    def _specifier(self, param: Any) -> Any:
        if not isinstance(param, dict):
            raise SdkError("this call needs a parameter object with a specifier")
        return param.get("specifier")

    async def _model_info(self, param: Any) -> Any:
        models = self.server.models
        try:
            entry = await asyncio.to_thread(models.resolve, self._specifier(param))
        except SdkError as err:
            if err.status == 404 and isinstance(param, dict) and param.get("throwIfNotFound") is False:
                return None
            raise
        return await asyncio.to_thread(models.instance, entry)

    async def _load_config(self, param: Any) -> Any:
        info = await self._model_info(param)
        return {"fields": [{"key": "llm.load.contextLength", "value": info["contextLength"]}]}

    async def _unload(self, param: Any) -> None:
        identifier = param.get("identifier") if isinstance(param, dict) else None
        if not isinstance(identifier, str):
            raise SdkError("unloadModel needs the identifier of a loaded model")
        await asyncio.to_thread(self.server.models.unload, identifier)

    async def _tokens(self, param: Any) -> list[int]:
        text = param.get("inputString") if isinstance(param, dict) else None
        if not isinstance(text, str):
            raise SdkError("inputString must be text")
        models = self.server.models
        entry = await asyncio.to_thread(models.resolve, self._specifier(param))
        cancel = threading.Event()
        try:
            return await asyncio.to_thread(models.tokenize, entry, text, cancel)
        finally:
            cancel.set()  # leaves the model's line if the socket dropped meanwhile

    async def _tokenize(self, param: Any) -> Any:
        return {"tokens": await self._tokens(param)}

    async def _count_tokens(self, param: Any) -> Any:
        return {"tokenCount": len(await self._tokens(param))}

    async def _no_embeddings(self, _param: Any) -> Any:
        return []

    # --- channels -----------------------------------------------------------------------------
    async def _on_channel(self, message: dict[str, Any]) -> None:
        channel_id, endpoint = message.get("channelId"), message.get("endpoint")
        if not isinstance(channel_id, int) or not isinstance(endpoint, str):
            await self._warn("channelCreate needs an integer channelId and an endpoint", "channelUnknown")
            return
        if channel_id in self._channels:
            await self._warn(f"channel {channel_id} is already open", "channelAlreadyOpen")
            return
        channel = self._channels[channel_id] = Channel(self.send_json, channel_id)
        param = message.get("creationParameter")

        async def serve() -> None:
            try:
                if len(self._tasks) > MAX_OPEN:
                    raise SdkError(f"more than {MAX_OPEN} calls at once on one connection", 429)
                if self.namespace == "llm" and endpoint == "predict":
                    await Prediction(self.server, channel, "/llm/predict", self.client).run(param)
                elif self.namespace == "llm" and endpoint == "getOrLoad":
                    await get_or_load(self.server, channel, param)
                else:
                    raise self._unserved(f"the channel endpoint {endpoint!r} of /{self.namespace}")
            except (ConnectionError, OSError):
                pass  # the socket is gone
            except Exception as exc:
                err = sdk_error(exc)
                with contextlib.suppress(Exception):
                    await channel.fail(err if isinstance(err, SdkError) else SdkError(str(err)))
            finally:
                self._channels.pop(channel_id, None)

        self._spawn(serve())

"""LM Studio's REST v1: `POST /api/v1/chat` (plain or streamed), `GET /api/v1/models`,
`POST /api/v1/models/load`, `POST /api/v1/models/unload`.

A streamed chat is LM Studio's event grammar: chat.start, prompt_processing.start,
prompt_processing.progress (1.0, once the prompt is read) and prompt_processing.end before
the first token, message.start, one message.delta per token, message.end, then chat.end
with the whole result; an `error` event (then chat.end with what was generated) when
generation fails or the server stops midway. The stream begins once the model is loaded,
so model_load.* events are not sent. A model loaded with /api/v1/models/load stays loaded
until /api/v1/models/unload (the server's idle TTL is for models it loads on demand).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core.events import GenerationResult, GenerationStats, StopReason, TokenEvent, TokenOrigin
from app.core.request import ChatMessage
from app.library.entry import ModelEntry
from app.runtime import LoadSettings
from app.server.errors import ApiError, from_validation, lmstudio_error_body
from app.server.generation_route import (
    ServerContext,
    SseEvent,
    generation_reply,
    json_response,
    read_json,
    request_info,
)
from app.server.jobs import Started, api_error_of, find_model
from app.server.lmstudio_rest.parsing import ChatCall, parse_chat
from app.server.lmstudio_rest.schema import (
    Capabilities,
    ChatEndEvent,
    ChatResult,
    ChatStartEvent,
    ChatStats,
    InstanceConfig,
    LoadConfig,
    LoadedInstance,
    LoadRequest,
    LoadResult,
    ProgressEvent,
    Quantization,
    RestMessageDeltaEvent,
    RestOutputMessage,
    RestV1Model,
    RestV1ModelList,
    StepEvent,
    UnloadRequest,
    UnloadResult,
    dump,
)
from app.server.request_parsing import refuse_unsupported
from app.server.response_store import ResponseStore, StoredReply, new_response_id
from app.server.responses import stats_of

LOAD_UNSUPPORTED = {
    name: (
        lambda v: v is None,
        f"{name} is not a load setting of this server (it loads with context_length only)",
    )
    for name in ("eval_batch_size", "flash_attention", "num_experts", "offload_kv_cache_to_gpu")
}


def chat_stats(s: GenerationStats) -> ChatStats:
    return ChatStats(
        input_tokens=s.prompt_tokens_count,
        total_output_tokens=s.predicted_tokens_count,
        reasoning_output_tokens=0,
        time_to_first_token_seconds=s.time_to_first_token,
        **stats_of(s).model_dump(),
    )


class ChatEvents:
    """The stream of one chat, in LM Studio's event grammar (see the module's docstring)."""

    def __init__(self, api: RestApi, call: ChatCall, model: str) -> None:
        self.api, self.call, self.model = api, call, model
        self.text: list[str] = []
        self.reading = True  # the prompt is being read: no token yet
        self.messaging = False

    @staticmethod
    def _event(model: BaseModel) -> SseEvent:
        data = dump(model)
        return data["type"], data

    def _step(self, kind: str) -> SseEvent:
        return self._event(StepEvent(type=kind))  # type: ignore[arg-type]

    def _message_started(self) -> list[SseEvent]:
        events: list[SseEvent] = []
        if self.reading:
            self.reading = False
            events += [
                self._event(ProgressEvent(type="prompt_processing.progress", progress=1.0)),
                self._step("prompt_processing.end"),
            ]
        if not self.messaging:
            self.messaging = True
            events.append(self._step("message.start"))
        return events

    def opening(self) -> list[SseEvent]:
        return [
            self._event(ChatStartEvent(type="chat.start", model_instance_id=self.model)),
            self._step("prompt_processing.start"),
        ]

    def token(self, event: TokenEvent) -> list[SseEvent]:
        self.text.append(event.text)
        drafted = True if event.origin is TokenOrigin.DRAFT else None
        return [
            *self._message_started(),
            self._event(RestMessageDeltaEvent(type="message.delta", content=event.text, draft=drafted)),
        ]

    def _end(self, text: str, stats: GenerationStats) -> list[SseEvent]:
        """A finished chat: every phase opened and closed, then the result (kept)."""
        result = self.api.result(self.call, self.model, text, stats, keep=True)
        return [*self._message_started(), self._step("message.end"), self._chat_end(result)]

    def _chat_end(self, result: ChatResult) -> SseEvent:
        return "chat.end", {**dump(ChatEndEvent(type="chat.end", result=result)), "result": dump(result)}

    def finish(self, result: GenerationResult) -> list[SseEvent]:
        if result.error:
            error = ApiError(500, f"generation failed: {result.error}", "generation_failed")
            return self._cut_short(error, result.text, result.stats)
        return self._end(result.text, result.stats)

    def failed(self, error: ApiError) -> list[SseEvent]:
        reason = StopReason.CANCELLED if error.code == "server_stopping" else StopReason.ERROR
        so_far = GenerationStats(stop_reason=reason, predicted_tokens_count=len(self.text))
        return self._cut_short(error, "".join(self.text), so_far)

    def _cut_short(self, error: ApiError, text: str, stats: GenerationStats) -> list[SseEvent]:
        """The error, the message closed if it was open, then what was generated (unkept)."""
        result = self.api.result(self.call, self.model, text, stats, keep=False)
        closing = [self._step("message.end")] if self.messaging else []
        return [("error", {"type": "error", **lmstudio_error_body(error)}), *closing, self._chat_end(result)]

    def closing(self) -> list[SseEvent]:
        return []


def model_info(entry: ModelEntry, n_ctx: int | None) -> RestV1Model:
    loaded = (
        [] if n_ctx is None else [LoadedInstance(id=entry.key, config=InstanceConfig(context_length=n_ctx))]
    )
    return RestV1Model(
        type="llm",
        publisher=entry.key.split("/", 1)[0],
        key=entry.key,
        display_name=entry.name,
        architecture=entry.architecture or None,
        quantization=Quantization(name=entry.quantization, bits_per_weight=None),
        size_bytes=entry.size_bytes,
        params_string=entry.params_label if entry.parameter_count else None,
        loaded_instances=loaded,
        max_context_length=entry.context_length,
        format="gguf" if entry.engine == "llama.cpp" else "mlx",
        capabilities=Capabilities(vision=False, trained_for_tool_use=False),
        description=None,
    )


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise from_validation(exc) from None


class RestApi:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.store = ResponseStore()  # this server's life only

    def result(
        self, call: ChatCall, model: str, text: str, stats: GenerationStats, keep: bool = True
    ) -> ChatResult:
        """The chat's result, kept for follow-ups when it is stored (and finished)."""
        reply_id = None
        if call.store and keep:
            reply_id = new_response_id("resp_")
            messages = (*call.history, ChatMessage.of("assistant", text))
            self.store.put(StoredReply(reply_id, messages, call.system))
        return ChatResult(
            model_instance_id=model,
            output=[RestOutputMessage(type="message", content=text)],
            stats=chat_stats(stats),
            response_id=reply_id,
        )

    async def chat(self, request: Request) -> Response:
        call = parse_chat(await read_json(self.ctx, request), self.store)

        def reply(started: Started, result: GenerationResult) -> Response:
            return json_response(dump(self.result(call, started.model, result.text, result.stats)))

        return await generation_reply(
            self.ctx, request, call.parsed, reply, lambda started: ChatEvents(self, call, started.model)
        )

    async def models(self, _request: Request) -> Response:
        def listing() -> list[RestV1Model]:
            library = self.ctx.runtime.library
            library.rescan()
            loaded = {info.key: info.n_ctx for info in self.ctx.runtime.loaded()}
            entries = sorted(library.entries.values(), key=lambda e: e.key)
            return [model_info(e, loaded.get(e.key)) for e in entries]

        return json_response(dump(RestV1ModelList(models=await asyncio.to_thread(listing))))

    async def load(self, request: Request) -> Response:
        body = await read_json(self.ctx, request)
        refuse_unsupported(body, LOAD_UNSUPPORTED)
        req = _validated(LoadRequest, body)
        request_info(request.scope).model = req.model
        runtime = self.ctx.runtime

        def load() -> tuple[str, int, float]:
            entry = find_model(runtime, req.model)
            settings = None
            if req.context_length is not None:
                settings = LoadSettings(req.context_length, runtime.settings_for(entry.key).n_gpu_layers)
            t0 = time.perf_counter()
            info = runtime.load(entry.key, settings)
            self.ctx.jit.forget([entry.key])  # loaded on request: it stays until unloaded
            return entry.key, info.n_ctx, time.perf_counter() - t0

        try:
            key, n_ctx, seconds = await asyncio.to_thread(load)
        except Exception as exc:
            err = api_error_of(exc)
            raise (err if err is not None else exc) from None
        echo = LoadConfig(context_length=n_ctx) if req.echo_load_config else None
        result = LoadResult(
            type="llm", instance_id=key, load_time_seconds=seconds, status="loaded", load_config=echo
        )
        return json_response(dump(result))

    async def unload(self, request: Request) -> Response:
        req = _validated(UnloadRequest, await read_json(self.ctx, request))
        request_info(request.scope).model = req.instance_id
        runtime = self.ctx.runtime
        info = next((i for i in runtime.loaded() if i.key == req.instance_id), None)
        if info is None:
            raise ApiError(
                404,
                f"no loaded model instance {req.instance_id!r} (see GET /api/v1/models)",
                "model_not_found",
                param="instance_id",
            )
        if info.pinned:
            raise ApiError(
                409,
                f"{info.key} is loaded by the app for its chat: unload it there",
                "model_in_use",
                param="instance_id",
            )
        await asyncio.to_thread(runtime.evict, info.key, wait=False)  # a reply using it ends first
        self.ctx.jit.forget([info.key])
        return json_response(dump(UnloadResult(instance_id=info.key)))

    async def download(self, _request: Request) -> Response:
        raise ApiError(
            501,
            "this server does not download models: put model files in a library folder (see My Models)",
            "not_implemented",
        )


def routes(ctx: ServerContext) -> list[Route]:
    api = RestApi(ctx)
    return [
        Route("/api/v1/chat", api.chat, methods=["POST"]),
        Route("/api/v1/models", api.models, methods=["GET"]),
        Route("/api/v1/models/load", api.load, methods=["POST"]),
        Route("/api/v1/models/unload", api.unload, methods=["POST"]),
        Route("/api/v1/models/download", api.download, methods=["POST"]),
        Route("/api/v1/models/download/status", api.download, methods=["GET"]),
        Route("/api/v1/models/download/status/{job_id}", api.download, methods=["GET"]),
    ]

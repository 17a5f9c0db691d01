"""The `predict` channel: respond() and complete() of both SDKs.

The creation parameter (model specifier, chat history, prediction config stack) becomes the
same ParsedRequest the HTTP API builds, run as a GenerationJob: the model's line, loading on
demand, cancellation and stopping with the server all work as they do for HTTP requests.
The channel then carries `promptProcessingProgress` (0 when the prompt starts, 1 with the
first token), one `fragment` per token (`containsDrafted`: the draft proposed it and the
model accepted it), and `success` with the stats in the SDK's names, the model's info and
the settings the prediction ran with, then `channelClose`.

The client's `cancel` stops the job and ends the channel with `success` and stop reason
`userStopped` (what LM Studio does); a socket that drops cancels the job as a disconnected
HTTP client does. One request log record per prediction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from app.core.events import GenerationResult, GenerationStats, StopReason, TokenEvent, TokenOrigin
from app.library.entry import ModelEntry
from app.server.body import ClientDisconnected
from app.server.errors import ApiError
from app.server.jobs import GenerationJob
from app.server.lmstudio_sdk.channel import Channel
from app.server.lmstudio_sdk.config_stack import prediction_config, prediction_fields
from app.server.lmstudio_sdk.context import SdkServer
from app.server.lmstudio_sdk.history import chat_messages, raw_prompt
from app.server.lmstudio_sdk.models import sdk_error
from app.server.lmstudio_sdk.wire import SdkError, fragment, kv_config, prediction_stats
from app.server.records import RequestRecord
from app.server.request_parsing import ParsedRequest

CLIENT_GONE = 499  # logged for a client that left before its answer (as the HTTP API)


class Prediction:
    def __init__(self, server: SdkServer, channel: Channel, path: str, client: str) -> None:
        self.server, self.channel, self.path, self.client = server, channel, path, client
        self.arrived, self.t0 = time.time(), time.perf_counter()
        self.model: str | None = None
        self.stats: GenerationStats | None = None
        self.status: int = 200
        self.error: str | None = None
        self.reported = False

    # --- the request ------------------------------------------------------------------------------
    def _parse(self, param: Any) -> tuple[ModelEntry, ParsedRequest, dict[str, Any], str | None]:
        """(model, request, the settings it runs with, the draft's key); runs in a thread."""
        if not isinstance(param, dict):
            raise SdkError("the predict channel needs a creation parameter")
        if param.get("fuzzyPresetIdentifier"):
            raise SdkError("presets are not supported by this server: pass the settings in config")
        entry = self.server.models.resolve(param.get("modelSpecifier"))
        self.model = entry.key
        config = prediction_config(param.get("predictionConfigStack"), entry.engine)
        parsed = ParsedRequest(
            chat=not config.raw_completion,
            model=entry.key,
            stream=True,
            draft_model=config.draft_model,
            overrides=config.overrides,
            stop=config.stop,
        )
        history = param.get("history")
        if config.raw_completion:
            parsed.prompt = raw_prompt(history)
        else:
            parsed.messages = chat_messages(history)
        runtime = self.server.runtime
        draft_key = None
        if parsed.names_a_draft_model:
            found = runtime.library.find(parsed.draft_model or "")
            draft_key = found.key if found is not None else None
        values = runtime.defaults.effective(entry.key, parsed.settings(draft_key))
        return entry, parsed, values, values["draft_model"]

    async def run(self, param: Any) -> None:
        job: list[GenerationJob] = []  # the job, once there is one
        try:
            await self._run(param, job)
        except SdkError as err:
            self.status, self.error = err.status, err.title
            self._report()
            with contextlib.suppress(Exception):
                await self.channel.fail(err)
        except (asyncio.CancelledError, ConnectionError, OSError):
            self.status, self.error = CLIENT_GONE, "the client disconnected"
            raise
        finally:
            for j in job:  # once the client has its answer: stopping the server waits for this
                j.cancel.set()  # a no-op once it has finished; stops it when the socket dropped
                self.server.jobs.discard(j)
            self._report()

    async def _run(self, param: Any, job: list[GenerationJob]) -> None:
        try:
            entry, parsed, values, draft_key = await asyncio.to_thread(self._parse, param)
        except Exception as exc:
            raise sdk_error(exc) from None
        job.append(GenerationJob(self.server.runtime, self.server.jit, parsed, asyncio.get_running_loop()))
        self.server.jobs.add(job[0])
        job[0].start()
        cancel = asyncio.create_task(self._cancel_on_request(job[0]))
        try:
            await self._stream(job[0], entry, parsed, values, draft_key)
        finally:
            cancel.cancel()

    async def _cancel_on_request(self, job: GenerationJob) -> None:
        await self.channel.cancelled.wait()
        job.cancel.set()

    async def _stream(
        self,
        job: GenerationJob,
        entry: ModelEntry,
        parsed: ParsedRequest,
        values: dict[str, Any],
        draft_key: str | None,
    ) -> None:
        channel = self.channel
        try:
            await job.started()
        except ApiError as err:
            raise SdkError(err.message, err.status) from None
        except ClientDisconnected:  # cancelled while waiting for the model
            self._check_stopping()
            await self._finish(entry, GenerationStats(stop_reason=StopReason.CANCELLED), parsed, values, None)
            return
        await channel.send({"type": "promptProcessingProgress", "progress": 0.0})
        first, tokens, drafted = True, 0, False  # what the next fragment carries
        async for item in job.events():
            if isinstance(item, ApiError):
                raise SdkError(item.message, item.status)
            if isinstance(item, GenerationResult):
                self.stats = item.stats
                if item.error:
                    raise SdkError(f"generation failed: {item.error}", 500)
                self._check_stopping()
                if tokens and not job.cancel.is_set():  # a last token that finished no character
                    await channel.send(fragment("", tokens, drafted))
                await self._finish(entry, item.stats, parsed, values, draft_key)
                return
            if not isinstance(item, TokenEvent) or job.cancel.is_set():
                continue  # cancelled: the job ends within a round, its result says how
            tokens += item.token_id >= 0
            drafted = drafted or item.origin is TokenOrigin.DRAFT
            if not item.text:  # part of a character: it goes with the next piece
                continue
            if first:
                first = False
                await channel.send({"type": "promptProcessingProgress", "progress": 1.0})
            await channel.send(fragment(item.text, tokens, drafted))
            tokens, drafted = 0, False

    def _check_stopping(self) -> None:
        if self.server.stopping.is_set():
            raise SdkError("the server is stopping", 503)

    async def _finish(
        self,
        entry: ModelEntry,
        stats: GenerationStats,
        parsed: ParsedRequest,
        values: dict[str, Any],
        draft_key: str | None,
    ) -> None:
        instance = await asyncio.to_thread(self.server.models.instance, entry)
        self._report()  # before the answer: a client that has it finds it logged
        await self.channel.send(
            {
                "type": "success",
                "stats": prediction_stats(stats, draft_key),
                "modelInfo": instance,
                "loadModelConfig": kv_config({"llm.load.contextLength": instance["contextLength"]}),
                "predictionConfig": kv_config(prediction_fields(values, entry.engine, parsed.stop)),
            }
        )
        await self.channel.close()

    def _report(self) -> None:
        if self.reported:
            return
        self.reported = True
        s = self.stats
        self.server.report(
            RequestRecord(
                time=self.arrived,
                method="WS",
                path=self.path,
                status=self.status,
                client=self.client,
                model=self.model,
                tokens=s.predicted_tokens_count if s else None,
                tokens_per_second=s.tokens_per_second if s else None,
                acceptance=s.acceptance_rate if s else None,
                draft=s.draft_model if s else None,
                duration=time.perf_counter() - self.t0,
                error=self.error,
            )
        )

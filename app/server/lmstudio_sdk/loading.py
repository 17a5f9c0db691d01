"""The `getOrLoad` channel (`client.llm.model(key)`): `alreadyLoaded`, or `startLoading`, then
`loadProgress` as the model loads, then `loadSuccess`. The model waits for its line like any
request; the client's `cancel` leaves the line (a load already under way finishes)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from app.server.lmstudio_sdk.channel import Channel
from app.server.lmstudio_sdk.config_stack import load_context_length
from app.server.lmstudio_sdk.context import SdkServer
from app.server.lmstudio_sdk.models import Cancelled
from app.server.lmstudio_sdk.wire import SdkError

INSTANCE_ONLY = ("identifier", "instanceReference", "contextLength")


async def get_or_load(server: SdkServer, channel: Channel, param: Any) -> None:
    models = server.models
    if not isinstance(param, dict) or not isinstance(param.get("identifier"), str):
        raise SdkError("getOrLoad needs the identifier of a model")
    identifier = param["identifier"]
    context_length = load_context_length(param.get("loadConfigStack", {"layers": []}))
    ttl_ms = param.get("loadTtlMs")
    if ttl_ms is not None and (not isinstance(ttl_ms, int) or isinstance(ttl_ms, bool) or ttl_ms < 1):
        raise SdkError("loadTtlMs must be a whole number of milliseconds >= 1")
    entry = await asyncio.to_thread(models.find, identifier, {"identifier": identifier})
    if entry.key in await asyncio.to_thread(models.loaded):
        await channel.send({"type": "alreadyLoaded", "info": await asyncio.to_thread(models.instance, entry)})
        await channel.close()
        return
    info = await asyncio.to_thread(models.instance, entry)
    await channel.send(
        {
            "type": "startLoading",
            "identifier": entry.key,
            "info": {k: v for k, v in info.items() if k not in INSTANCE_ONLY},
        }
    )
    loop = asyncio.get_running_loop()
    fractions: asyncio.Queue[float | None] = asyncio.Queue()

    async def pump() -> None:
        while (fraction := await fractions.get()) is not None:
            await channel.send({"type": "loadProgress", "progress": fraction})

    def progress(fraction: float) -> None:  # on the loading thread
        loop.call_soon_threadsafe(fractions.put_nowait, float(fraction))

    cancel = threading.Event()
    pumping = asyncio.create_task(pump())
    waiter = asyncio.create_task(channel.cancelled.wait())
    loading = asyncio.create_task(
        asyncio.to_thread(
            models.load,
            entry,
            ttl_ms,
            context_length,
            progress,
            cancel,
        )
    )
    try:
        done, _ = await asyncio.wait({waiter, loading}, return_when=asyncio.FIRST_COMPLETED)
        if waiter in done:
            cancel.set()
        await loading
    except Cancelled:
        raise SdkError("loading was cancelled") from None
    finally:
        cancel.set()
        waiter.cancel()
        loading.add_done_callback(lambda t: t.cancelled() or t.exception())  # read, if left behind
        fractions.put_nowait(None)  # after every progress report the load made
        await pumping
    await channel.send({"type": "loadSuccess", "info": await asyncio.to_thread(models.instance, entry)})
    await channel.close()

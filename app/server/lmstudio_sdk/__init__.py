"""LM Studio's SDK (`lmstudio` on PyPI, `@lmstudio/sdk` on npm) served on the server's port.

    mount.py         the greeting and the websockets, in front of the HTTP API
    session.py       one connection: auth packet, keep-alives, RPCs and channels
    predict.py       the predict channel (respond, complete) on a GenerationJob
    loading.py       the getOrLoad channel
    models.py        specifiers, listings, loading, unloading, tokenizing
    config_stack.py  the SDK's KV config stacks as our settings
    history.py       the SDK's chat history as our messages
    wire.py          the shapes the SDK reads, its errors
    channel.py       one channel of a connection

The subset the SDKs' LLM calls need, checked against lmstudio 1.5.0 (Python) and
@lmstudio/sdk 1.5.0 (JavaScript); see the README for the calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.runtime import ModelRuntime
from app.server.config import ServerConfig
from app.server.guard import ASGIApp
from app.server.jit import JitModels
from app.server.jobs import JobSet
from app.server.lmstudio_sdk.context import SdkServer
from app.server.lmstudio_sdk.mount import LmStudioSdk
from app.server.records import RequestRecord


def mount_sdk(
    app: ASGIApp,
    runtime: ModelRuntime,
    config: ServerConfig,
    jobs: JobSet,
    jit: JitModels,
    report: Callable[[RequestRecord], None],
    stopping: threading.Event,
) -> ASGIApp:
    """`app` with the SDK's greeting and websockets in front of it."""
    return LmStudioSdk(app, SdkServer(runtime, config, jobs, jit, report, stopping))


__all__ = ["mount_sdk"]

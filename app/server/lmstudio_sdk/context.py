"""What every SDK connection shares with the rest of the server: the runtime, the jobs (so
stopping the server stops SDK predictions too), the on-demand models, the request log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from app.runtime import ModelRuntime
from app.server.config import ServerConfig
from app.server.jit import JitModels
from app.server.jobs import JobSet
from app.server.lmstudio_sdk.models import SdkModels
from app.server.records import RequestRecord


@dataclass
class SdkServer:
    runtime: ModelRuntime
    config: ServerConfig
    jobs: JobSet
    jit: JitModels
    report: Callable[[RequestRecord], None]
    stopping: threading.Event
    models: SdkModels = field(init=False)

    def __post_init__(self) -> None:
        self.models = SdkModels(self.runtime, self.jit)

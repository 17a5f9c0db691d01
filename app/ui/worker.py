"""The engine's thread. Loading and generation run here; the GUI thread never waits on them.

Jobs arrive as queued signals, so they run one after another in order: a draft switched
during a reply is loaded after that reply ends and applies to the next one. Stopping sets a
flag the loop checks every round. Tokens reach the GUI in batches, at most every ~40 ms,
not one signal per token.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from app.core.errors import SpeculaError
from app.core.events import GenerationResult
from app.core.request import GenerationRequest
from app.engines.compatibility import check_draft
from app.engines.drafting import PROMPT_LOOKUP_KEY, PromptLookupDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.loader import LoadedModel
from app.engines.mlx import MLXModel
from app.server.host import ModelHost
from app.ui.stream_batch import StreamBatcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadJob:
    path: Path
    key: str
    n_ctx: int
    n_gpu_layers: int


class EngineWorker(QObject):
    """Lives in a QThread; owns the loaded main and draft models."""

    modelLoading = Signal(str)  # key
    loadProgress = Signal(float)  # 0..1
    modelLoaded = Signal(str, str)  # key, display name
    modelEjected = Signal()
    draftChanged = Signal(str)  # key, "" when none
    draftRejected = Signal(str)  # key of a draft that could not be used
    tokensArrived = Signal(object)  # StreamBatch: pieces, rejected drafts and rounds since the last one
    generationFinished = Signal(object)  # GenerationResult
    failed = Signal(str)  # a message for the user
    loadFailed = Signal(str, str)  # key, reason: the library marks the model

    def __init__(self, host: ModelHost | None = None) -> None:
        super().__init__()
        self.host = host or ModelHost()  # shared with the local server
        self.cancel = threading.Event()  # set from the GUI thread to stop a reply
        self.main: LoadedModel | None = None
        self.main_key = ""
        self.draft: LoadedModel | PromptLookupDraft | None = None
        self.draft_key = ""
        self._load_opts: tuple[int, int] = (0, 0)

    # --- jobs (run in the worker thread) --------------------------------------------------
    @Slot(object)
    def load_main(self, job: LoadJob) -> None:
        self.modelLoading.emit(job.key)
        self._close_all()
        try:
            self.main = self.host.model(
                job.key,
                job.path,
                LoadOptions(n_ctx=job.n_ctx, n_gpu_layers=job.n_gpu_layers, progress=self.loadProgress.emit),
            )
        except SpeculaError as exc:
            self.loadFailed.emit(job.key, str(exc))
            self.failed.emit(f"Could not load {job.path.name}: {exc}")
            self.modelEjected.emit()
            return
        self.main_key = job.key
        self._load_opts = (job.n_ctx, job.n_gpu_layers)
        self.modelLoaded.emit(job.key, self.main.info.name)

    @Slot(object)
    def set_draft(self, job: LoadJob | None) -> None:
        if job is not None and job.key == self.draft_key and self.draft is not None:
            return
        if self.draft is not None:
            if self.draft_key != PROMPT_LOOKUP_KEY:
                self.host.evict(self.draft_key)
            self.draft, self.draft_key = None, ""
        if job is None or self.main is None:
            self.draftChanged.emit("")
            return
        if job.key == PROMPT_LOOKUP_KEY:
            self.draft, self.draft_key = PromptLookupDraft(), job.key
            self.draftChanged.emit(job.key)
            return
        verdict = check_draft(self.main.path, job.path)
        if not verdict:
            self.failed.emit(f"{job.path.name} cannot draft for {self.main.path.name}: {verdict.reason}")
            self.draftRejected.emit(job.key)
            self.draftChanged.emit("")
            return
        try:
            self.draft = self.host.model(
                job.key, job.path, LoadOptions(n_ctx=self.main.n_ctx, n_gpu_layers=job.n_gpu_layers)
            )
        except SpeculaError as exc:
            self.failed.emit(f"Could not load the draft {job.path.name}: {exc}")
            self.draftRejected.emit(job.key)
            self.draftChanged.emit("")
            return
        self.draft_key = job.key
        self.draftChanged.emit(job.key)

    @Slot()
    def eject(self) -> None:
        self._close_all()
        self.modelEjected.emit()

    @Slot(object)
    def generate(self, request: GenerationRequest) -> None:
        self.cancel.clear()
        if self.main is None:
            self.failed.emit("Load a model first (Ctrl+L).")
            return
        keys = [self.main_key] + (
            [self.draft_key] if isinstance(self.draft, (LlamaCppModel, MLXModel)) else []
        )
        try:
            # The models are shared with the local server: one generation at a time each.
            with self.host.using(keys, self.cancel.is_set, self.cancel):
                result = self._stream(request)
        except SpeculaError as exc:
            self.failed.emit(str(exc))
            return
        self.generationFinished.emit(result)

    def _stream(self, request: GenerationRequest) -> GenerationResult | None:
        assert self.main is not None
        batcher = StreamBatcher()
        result: GenerationResult | None = None
        for item in self.main.generate(request, draft=self.draft, cancel=self.cancel):
            if isinstance(item, GenerationResult):
                result = item
                continue
            batch = batcher.add(item)
            if batch is not None:
                self.tokensArrived.emit(batch)
        last = batcher.flush()
        if last is not None:
            self.tokensArrived.emit(last)
        return result

    @Slot()
    def shutdown(self) -> None:
        self._close_all()

    def _close_all(self) -> None:
        for key in (self.draft_key, self.main_key):
            if key and key != PROMPT_LOOKUP_KEY:
                self.host.evict(key)
        self.main = self.draft = None
        self.main_key = self.draft_key = ""

"""The engine's thread. Loading and generation run here; the GUI thread never waits on them.

Jobs arrive as queued signals, so they run one after another in order: a draft switched
during a reply is loaded after that reply ends and applies to the next one. Stopping sets a
flag the loop checks every round. Tokens reach the GUI in batches, at most every ~40 ms,
not one signal per token.

A reply has an identity end to end: everything the thread sends about a reply (its batches,
its result, its failure) names it, so nothing can land in another reply; and loading failures
(of the main model, of a draft) are signals of their own, never a reply's.

The models themselves belong to the ModelRuntime, shared with the local server and the
advisor: this worker only says which main model and which draft the chat uses, leases the
pair for each reply, and lets go of what the chat no longer uses (a model a server request
is using is closed when that request ends, never under it).
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal, Slot

from app.chat.context_meter import ContextJob, read_context
from app.chat.load_job import LoadJob
from app.chat.reply_flight import ReplyJob
from app.chat.stream_batch import StreamBatcher
from app.core.errors import DraftIncompatibleError, SpeculaError
from app.core.events import GenerationResult
from app.engines.drafting import PROMPT_LOOKUP_KEY
from app.runtime import ClientGoneError, Lease, LoadSettings, ModelRuntime

log = logging.getLogger(__name__)


class EngineWorker(QObject):
    """Lives in a QThread; says which models the chat uses and streams its replies."""

    modelLoading = Signal(str)  # key
    loadProgress = Signal(float)  # 0..1
    modelLoaded = Signal(str, str)  # key, display name
    modelEjected = Signal()
    draftChanged = Signal(str)  # key, "" when none
    draftRejected = Signal(str, str)  # key of a draft that could not be used, a message for the user
    loadFailed = Signal(str, str)  # key, reason: the main model did not load (the library marks it)
    replyStarted = Signal(int, str, str)  # reply id, main key, draft key (""): the pair it runs on
    # reply id, StreamBatch: pieces, rejected drafts and rounds since the last batch
    tokensArrived = Signal(int, object)
    generationFinished = Signal(int, object)  # reply id, GenerationResult (None: cut off)
    generationFailed = Signal(int, str)  # reply id, a message for the user
    contextCounted = Signal(object)  # ContextReading: the context meter's count

    def __init__(self, runtime: ModelRuntime | None = None) -> None:
        super().__init__()
        self.runtime = runtime or ModelRuntime()  # shared with the local server
        self.cancel = threading.Event()  # set from the GUI thread to stop a reply
        self.main_key = ""
        self.draft_key = ""

    # --- jobs (run in the worker thread) --------------------------------------------------
    @Slot(object)
    def load_main(self, job: LoadJob) -> None:
        self.modelLoading.emit(job.key)
        self._let_go(keep=job.key)
        try:
            info = self.runtime.load(
                job.key,
                LoadSettings(job.n_ctx, job.n_gpu_layers),
                progress=lambda _key, fraction: self.loadProgress.emit(fraction),
                pin=True,
            )
        except SpeculaError as exc:
            self.loadFailed.emit(job.key, str(exc))
            self.modelEjected.emit()
            return
        self.main_key = job.key
        self.modelLoaded.emit(job.key, info.name)

    @Slot(object)
    def set_draft(self, job: LoadJob | None) -> None:
        if job is not None and job.key == self.draft_key:
            return
        self._drop_draft()
        if job is None or not self.main_key:
            self.draftChanged.emit("")
            return
        if job.key == PROMPT_LOOKUP_KEY:
            self.draft_key = job.key
            self.draftChanged.emit(job.key)
            return
        try:
            # Loads the draft now (with at least the main model's context), not at the first reply.
            with self.runtime.lease(
                self.main_key, job.key, progress=lambda _k, f: self.loadProgress.emit(f), max_waiting=None
            ):
                pass
            self.runtime.pin(job.key)
        except DraftIncompatibleError as exc:
            self._reject(job, str(exc))
            return
        except SpeculaError as exc:
            self._reject(job, f"Could not load the draft {job.path.name}: {exc}")
            return
        self.draft_key = job.key
        self.draftChanged.emit(job.key)

    def _reject(self, job: LoadJob, message: str) -> None:
        self.draftRejected.emit(job.key, message)
        self.draftChanged.emit("")

    @Slot()
    def eject(self) -> None:
        self._let_go()
        self.modelEjected.emit()

    @Slot(object)
    def generate(self, job: ReplyJob) -> None:
        self.cancel.clear()
        reply = job.reply_id
        if not self.main_key:
            self.generationFailed.emit(reply, "Load a model first (Ctrl+L).")
            return
        try:
            # The models are shared with the local server: the lease waits for its turn.
            lease = self.runtime.lease(
                self.main_key, self.draft_key or None, cancel=self.cancel, max_waiting=None
            )
            with lease:
                self.replyStarted.emit(reply, lease.main_key, lease.draft_key or "")
                result = self._stream(lease, job)
        except ClientGoneError:
            self.generationFailed.emit(
                reply, "Stopped before the reply started (the model was busy with another request)."
            )
            return
        except SpeculaError as exc:
            self.generationFailed.emit(reply, str(exc))
            return
        self.generationFinished.emit(reply, result)

    @Slot(object)
    def count_context(self, job: ContextJob) -> None:
        """The context meter's count, on the chat's main model (after the reply in flight)."""
        if not self.main_key:
            return
        try:
            with self.runtime.lease(self.main_key, None, max_waiting=None) as lease:
                self.contextCounted.emit(read_context(lease.main, job))
        except SpeculaError:  # a template that fails says so when a reply is sent
            log.debug("could not count the context", exc_info=True)

    def _stream(self, lease: Lease, job: ReplyJob) -> GenerationResult | None:
        batcher = StreamBatcher()
        result: GenerationResult | None = None
        for item in lease.generate(job.request, cancel=self.cancel):
            if isinstance(item, GenerationResult):
                result = item
                continue
            batch = batcher.add(item)
            if batch is not None:
                self.tokensArrived.emit(job.reply_id, batch)
        last = batcher.flush()
        if last is not None:
            self.tokensArrived.emit(job.reply_id, last)
        return result

    @Slot()
    def shutdown(self) -> None:
        self._let_go()

    # --- letting go -------------------------------------------------------------------------
    def _drop_draft(self, keep: str = "") -> None:
        key, self.draft_key = self.draft_key, ""
        if key and key not in (PROMPT_LOOKUP_KEY, self.main_key, keep):
            self.runtime.evict(key, wait=False)  # closed now, or when a server request ends

    def _let_go(self, keep: str = "") -> None:
        """Stop using the chat's models; `keep` is about to be (re)loaded."""
        self._drop_draft(keep)
        key, self.main_key = self.main_key, ""
        if key and key != keep:
            self.runtime.evict(key, wait=False)

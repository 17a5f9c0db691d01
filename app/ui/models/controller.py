"""Between the model state (app/chat/model_state.py) and the engine thread: the state's
requests (a model to load, the draft chosen) go to the thread as queued jobs, the thread's
news comes back to the state in the GUI thread, and the drafts of the loaded model are
identified off it. No widget here: the views follow the state's events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.chat.draft_choices import DraftChoices
from app.chat.load_job import LoadJob
from app.chat.model_state import ModelState
from app.library.compat_index import CompatibilityIndex, DraftReport
from app.ui.engine_thread import EngineWorker

TaskRunner = Callable[[Callable[[Callable[[int, int], None]], Any], Callable[[Any], None]], object]


class ModelController(QObject):
    loadRequested = Signal(object)  # LoadJob
    draftRequested = Signal(object)  # LoadJob | None
    ejectRequested = Signal()
    modelReady = Signal(str)  # key: loaded (views and tests)
    draftReady = Signal(str)  # key: the engine thread uses this draft now ("" for none)
    draftReportReady = Signal(object)  # DraftReport: the loaded model's drafts are identified

    def __init__(
        self,
        state: ModelState,
        worker: EngineWorker,
        index: CompatibilityIndex,
        run_task: TaskRunner,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.index = index
        self.run_task = run_task
        self.loadRequested.connect(worker.load_main)
        self.draftRequested.connect(worker.set_draft)
        self.ejectRequested.connect(worker.eject)
        # the worker's signals reach these methods of a GUI-thread object: they run here
        worker.modelLoading.connect(self._on_model_loading)
        worker.loadProgress.connect(self._on_load_progress)
        worker.modelLoaded.connect(self._on_model_loaded)
        worker.modelEjected.connect(self._on_model_ejected)
        worker.loadFailed.connect(self._on_load_failed)
        worker.draftChanged.connect(self._on_draft_changed)
        worker.draftRejected.connect(self._on_draft_rejected)
        state.events.load.connect(self._on_load_wanted)
        state.events.chosen_draft.connect(self._on_draft_chosen)
        state.events.drafts.connect(self._on_drafts)
        state.events.identify.connect(self.identify_drafts)

    # --- to the engine thread ---------------------------------------------------------------------
    def _on_load_wanted(self, job: LoadJob) -> None:
        self.loadRequested.emit(job)

    def _on_draft_chosen(self, key: str) -> None:
        """Queued behind any reply in progress: a switch applies to the next reply."""
        self.draftRequested.emit(self.state.draft_job(key))

    def eject(self) -> None:
        """Queued behind a reply in progress (the model state says so while it waits)."""
        self.state.eject()
        self.ejectRequested.emit()

    # --- from the engine thread -------------------------------------------------------------------
    def _on_model_loading(self, key: str) -> None:
        self.state.on_loading(key)

    def _on_load_progress(self, fraction: float) -> None:
        self.state.on_progress(fraction)

    def _on_model_loaded(self, key: str, _name: str) -> None:
        self.state.on_loaded(key)
        self.modelReady.emit(key)
        self.identify_drafts(key)

    def _on_model_ejected(self) -> None:
        self.state.on_ejected()

    def _on_load_failed(self, key: str, reason: str) -> None:
        self.state.on_load_failed(key, reason)

    def _on_draft_changed(self, key: str) -> None:
        self.state.on_draft_changed(key)
        self.draftReady.emit(key)

    def _on_draft_rejected(self, key: str, message: str) -> None:
        self.state.on_draft_rejected(key, message)

    # --- the loaded model's drafts ------------------------------------------------------------------
    def identify_drafts(self, key: str) -> None:
        self.run_task(lambda _r: self.index.drafts_for(key), self._on_report)

    def _on_report(self, report: DraftReport) -> None:
        self.state.on_drafts(report)

    def _on_drafts(self, choices: DraftChoices | None) -> None:
        if choices is not None:
            self.draftReportReady.emit(choices.report)

    def after_advice(self, key: str) -> None:
        """The advisor measured `key`: its drafts' warnings may have changed."""
        if key == self.state.loaded_key:
            self.state.keep_choice()
            self.identify_drafts(key)

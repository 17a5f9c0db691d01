"""The main window: navigation, the model picker, and the wiring between pages, the library
and the engine thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QThread, Signal
from PySide6.QtGui import QActionGroup, QCloseEvent, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.chat.store import ChatStore
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.atomic import file_warnings
from app.library.bundled import bundled_model_path, ensure_bundled_model
from app.library.compat_index import CompatibilityIndex, DraftReport
from app.library.entry import ModelEntry
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.runtime import ModelRuntime
from app.ui.advisor_dialog import AdvisorDialog
from app.ui.chat_page import ChatPage
from app.ui.dialogs import show_about
from app.ui.icons import icon
from app.ui.model_picker import ModelPicker, short_label
from app.ui.models_page import ModelsPage
from app.ui.notice_banner import NoticeBanner
from app.ui.preferences import Preferences
from app.ui.resources import RESOURCES
from app.ui.server_page import ServerPage
from app.ui.tasks import BackgroundTask, track
from app.ui.theme import Theme
from app.ui.theming import THEME_CHOICES, ThemeManager
from app.ui.worker import EngineWorker, LoadJob

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    sig_load = Signal(object)
    sig_set_draft = Signal(object)
    sig_generate = Signal(object)
    sig_eject = Signal()
    libraryReady = Signal()
    draftReportReady = Signal(object)
    modelReady = Signal(str)  # re-emitted in the GUI thread, for views and tests
    bundledProgress = Signal(int, int)
    draftReady = Signal(str)

    def __init__(
        self,
        library: ModelLibrary | None = None,
        store: ChatStore | None = None,
        defaults: ModelDefaultsStore | None = None,
        auto_load: bool = True,
        preferences: Preferences | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle(f"Specula {__version__}")
        icon = RESOURCES / "specula.svg"
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.resize(1280, 800)
        self.library = library or ModelLibrary()
        self.store = store or ChatStore()
        self.defaults = defaults or ModelDefaultsStore()
        self.index = CompatibilityIndex(self.library)
        self.auto_load = auto_load
        self.loaded_key = ""
        self.draft_key = ""  # the draft the worker uses now ("" for none)
        self._tasks: list[BackgroundTask] = []
        self._dialogs: list[AdvisorDialog] = []
        self.load_failures: dict[str, str] = {}  # key -> why it did not load (this session)
        self.preferences = preferences or Preferences()
        self.themes = ThemeManager(self.preferences, self)

        # one owner of loaded models for the chat, the local server and the advisor
        self.runtime = ModelRuntime(self.library, self.defaults, self.index)
        self.worker = EngineWorker(self.runtime)
        self.thread_ = track(QThread(self))
        self.thread_.setObjectName("engine")
        self.worker.moveToThread(self.thread_)
        self.sig_load.connect(self.worker.load_main)
        self.sig_set_draft.connect(self.worker.set_draft)
        self.sig_generate.connect(self.worker.generate)
        self.sig_eject.connect(self.worker.eject)
        self.thread_.start()

        # the model bar: choosing a model loads it
        top = QWidget()
        top.setObjectName("modelBar")
        top_l = QHBoxLayout(top)
        top_l.setContentsMargins(12, 8, 12, 8)
        self.model_combo = ModelPicker()
        self.model_combo.setMinimumWidth(360)
        self.model_combo.modelChosen.connect(self.load_key)
        self.eject_button = QPushButton("Eject")
        self.eject_button.setToolTip("Unload the model and its draft")
        self.eject_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel("No model loaded")
        self.status.setObjectName("modelStatus")
        self.model_combo.setMaximumWidth(620)
        top_l.addStretch(1)
        top_l.addWidget(self.model_combo, 3)
        top_l.addWidget(self.eject_button)
        top_l.addWidget(self.progress)
        top_l.addWidget(self.status, 2)
        self.eject_button.clicked.connect(self.sig_eject)

        # pages
        self.chat = ChatPage(self.store, self.preferences)
        self.models = ModelsPage(self.defaults)
        self.server_page = ServerPage(self.runtime)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.chat)
        self.pages.addWidget(self.models)
        self.pages.addWidget(self.server_page)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        for name, icon_name in (("Chat", "chat"), ("My Models", "models"), ("Local Server", "server")):
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, icon_name)
            self.nav.addItem(item)
        self.nav.setIconSize(QSize(18, 18))
        self.nav.setFixedWidth(148)
        self.nav.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.nav.setCurrentRow(0)

        body = QWidget()
        body_l = QHBoxLayout(body)
        body_l.setContentsMargins(0, 0, 0, 0)
        body_l.addWidget(self.nav)
        body_l.addWidget(self.pages, 1)
        central = QWidget()
        central_l = QVBoxLayout(central)
        central_l.setContentsMargins(0, 0, 0, 0)
        central_l.setSpacing(0)
        central_l.addWidget(top)
        self.notices = NoticeBanner()
        central_l.addWidget(self.notices)
        central_l.addWidget(body, 1)
        self.setCentralWidget(central)

        # wiring
        w = self.worker
        w.modelLoading.connect(self._on_model_loading)
        w.loadProgress.connect(self._on_load_progress)
        w.modelLoaded.connect(self._on_model_loaded)
        w.modelEjected.connect(self._on_model_ejected)
        w.draftChanged.connect(self._on_draft_changed)
        w.draftRejected.connect(self._on_draft_rejected)
        w.tokensArrived.connect(self.chat.on_tokens)
        w.generationFinished.connect(self.chat.on_finished)
        w.failed.connect(self._on_worker_failed)
        w.loadFailed.connect(self._on_load_failed)
        self.chat.generateRequested.connect(self.sig_generate)
        self.chat.stopRequested.connect(self.worker.cancel.set)
        self.chat.sidebar.draftSelected.connect(self._on_draft_selected)
        self.models.useInChat.connect(self._on_use_in_chat)
        self.models.draftsWanted.connect(self._compute_drafts_for_models_page)
        self.models.defaultsChanged.connect(self._on_defaults_changed)
        self.models.adviceWanted.connect(self.open_advisor)
        QShortcut(QKeySequence("Ctrl+L"), self, self._on_ctrl_l)
        self._build_menus()
        self.themes.changed.connect(self._on_theme_changed)
        self.themes.apply(force=True)

        self.chat.open_latest_or_new()
        self.show_file_notices()
        self.refresh_library(prepare_bundled=auto_load)

    def show_file_notices(self) -> None:
        """What went wrong with our own files (set aside, read-only, dropped values)."""
        store_notice = [self.store.notice.message] if self.store.notice else []
        self.notices.show_messages(store_notice + file_warnings())

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction("&New chat", QKeySequence("Ctrl+N"), self.chat.new_conversation)
        file_menu.addAction("&Add models folder...", self._on_add_folder)
        file_menu.addAction("&Import model file...", self._on_import_model)
        file_menu.addAction("&Rescan models", self.refresh_library)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QKeySequence("Ctrl+Q"), self.close)
        view_menu = self.menuBar().addMenu("&View")
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        self.theme_actions = {}
        for choice, title in THEME_CHOICES:
            action = theme_menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(self.themes.choice == choice)
            action.triggered.connect(lambda _c=False, c=choice: self.themes.set_choice(c))
            group.addAction(action)
            self.theme_actions[choice] = action
        view_menu.addAction(
            "Show &conversations", QKeySequence("Ctrl+Shift+L"), self.chat.conversations_toggle.toggle
        )
        view_menu.addAction("Show &settings", QKeySequence("Ctrl+Shift+S"), self.chat.sidebar_toggle.toggle)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&About Specula", lambda: show_about(self))

    def _on_theme_changed(self, theme: Theme) -> None:
        self.chat.set_theme(theme)
        self.model_combo.set_theme(theme)
        self.models.set_theme(theme)
        self.eject_button.setIcon(icon("eject", theme.text, theme.muted))
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            item.setIcon(icon(str(item.data(Qt.ItemDataRole.UserRole)), theme.nav_text))

    def _update_pair(self) -> None:
        """The picker's marks and the chat's 'Main + Draft' line, after any load or draft change."""
        main = self.library.entries.get(self.loaded_key) if self.loaded_key else None
        draft_key = self.draft_key
        draft = self.library.entries.get(draft_key) if draft_key else None
        draft_name = (
            PROMPT_LOOKUP_NAME if draft_key == PROMPT_LOOKUP_KEY else (short_label(draft) if draft else "")
        )
        self.model_combo.set_loaded(self.loaded_key, draft_key if draft else "")
        self.eject_button.setEnabled(bool(self.loaded_key))
        self.chat.set_model_pair(short_label(main) if main else "", draft_name)

    def _on_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a models folder")
        if folder:
            self.library.add_folder(Path(folder))
            self.refresh_library()

    def _on_import_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", "", "GGUF models (*.gguf)")
        if not path:
            return

        def job(report: Callable[[int, int], None]) -> Any:
            return self.library.import_model(Path(path), report)

        self.progress.show()
        task = self._run(job, lambda _e: self._on_library_scanned(None))
        task.progressed.connect(self._on_progress)

    # --- background work ---------------------------------------------------------------------
    def _run(
        self, func: Callable[[Callable[[int, int], None]], Any], done: Callable[[Any], None]
    ) -> BackgroundTask:
        task = BackgroundTask(func, self)
        task.succeeded.connect(done)
        task.failedWith.connect(self.chat.show_error)
        task.finished.connect(self._prune_tasks)
        self._tasks.append(task)
        task.start()
        return task

    def _prune_tasks(self) -> None:
        self._tasks = [t for t in self._tasks if not t.isFinished()]

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(100 * done / max(total, 1)))
        self.bundledProgress.emit(done, total)

    def _on_load_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))

    def refresh_library(self, prepare_bundled: bool = False) -> None:
        def job(report: Callable[[int, int], None]) -> Any:
            if prepare_bundled:
                ensure_bundled_model(report)
            self.library.rescan()
            return True

        self.status.setText("Looking for models...")
        if prepare_bundled:
            self.progress.show()
        task = self._run(job, self._on_library_scanned)
        task.progressed.connect(self._on_progress)

    def _on_library_scanned(self, _result: Any) -> None:
        self.progress.hide()
        self.show_file_notices()
        entries = self.library.entries
        self.load_failures = {k: v for k, v in self.load_failures.items() if k in entries}
        self.models.set_library(entries, self.library.problems, self.load_failures)
        self.model_combo.set_entries(entries.values(), self.loaded_key)
        self._update_pair()
        if not self.loaded_key:
            self.status.setText(f"{len(entries)} models found. Choose one to load it (Ctrl+L).")
        self.libraryReady.emit()
        if self.auto_load and not self.loaded_key and entries:
            bundled = next((k for k, e in entries.items() if Path(e.path) == bundled_model_path()), None)
            self.load_key(bundled or next(iter(sorted(entries))))

    # --- loading -------------------------------------------------------------------------------
    def _on_ctrl_l(self) -> None:
        self.model_combo.setFocus()
        self.model_combo.showPopup()

    def load_key(self, key: str) -> None:
        entry = self.library.entries.get(key)
        if entry is None:
            self.chat.show_error(f"{key} is no longer in the library.")
            return
        if self.chat.busy:
            self.chat.show_error("Stop the current reply before loading another model.")
            return
        values = self.defaults.effective(key)
        self.model_combo.select(key)
        self.sig_load.emit(
            LoadJob(Path(entry.path), key, int(values["context_length"]), int(values["gpu_offload"]))
        )

    def _on_model_loading(self, key: str) -> None:
        self.chat.model_loaded = False
        self.progress.setValue(0)
        self.progress.show()
        self.status.setText(f"Loading {key}...")
        self.model_combo.setEnabled(False)

    def _on_model_loaded(self, key: str, name: str) -> None:
        self.loaded_key = key
        self.progress.hide()
        self.model_combo.setEnabled(True)
        self.status.setText("")  # the picker marks the loaded model
        self.modelReady.emit(key)
        self.chat.model_loaded = True
        entry = self.library.entries.get(key)
        self.chat.sidebar.set_values(self.defaults.effective(key))
        self.chat.sidebar.set_engine(entry.engine if entry else "llama.cpp")
        self.chat.sidebar.set_identifying()
        self.draft_key = ""  # loading a model unloads the draft
        self._update_pair()
        self._run(lambda _r: self.index.drafts_for(key), self._on_chat_drafts_ready)

    def _on_chat_drafts_ready(self, report: DraftReport) -> None:
        if report.main.key != self.loaded_key:
            return
        saved = self.defaults.effective(self.loaded_key).get("draft_model") or ""
        self.chat.sidebar.set_report(report, select=saved)
        self.draftReportReady.emit(report)
        selected = self.chat.sidebar.selected_draft()
        self._on_draft_selected(selected)

    def _on_model_ejected(self) -> None:
        self.loaded_key = ""
        self.progress.hide()
        self.model_combo.setEnabled(True)
        self.chat.model_loaded = False
        self.chat.sidebar.set_no_model()
        self.status.setText("No model loaded")
        self.model_combo.select("")
        self.draft_key = ""
        self._update_pair()

    def _draft_job(self, key: str) -> LoadJob | None:
        if key == PROMPT_LOOKUP_KEY:
            return LoadJob(Path(), key, 0, 0)
        entry: ModelEntry | None = self.library.entries.get(key) if key else None
        if entry is None:
            return None
        values = self.defaults.effective(self.loaded_key)
        return LoadJob(Path(entry.path), key, int(values["context_length"]), int(values["gpu_offload"]))

    def _on_draft_selected(self, key: str) -> None:
        """Queued behind any reply in progress: a switch applies to the next reply."""
        self.sig_set_draft.emit(self._draft_job(key))

    def _on_draft_changed(self, key: str) -> None:
        self.draft_key = key
        self._update_pair()
        self.draftReady.emit(key)

    def _on_draft_rejected(self, key: str) -> None:
        if self.chat.sidebar.selected_draft() == key:
            self.chat.sidebar.select_draft("")

    def _on_load_failed(self, key: str, reason: str) -> None:
        """Mark the model in My Models; the app keeps running with nothing loaded."""
        self.load_failures[key] = reason
        self.models.set_library(self.library.entries, self.library.problems, self.load_failures)

    def _on_worker_failed(self, message: str) -> None:
        self.progress.hide()
        self.model_combo.setEnabled(True)
        self.chat.on_failed(message)

    # --- My Models -----------------------------------------------------------------------------
    def _compute_drafts_for_models_page(self, key: str) -> None:
        self._run(lambda _r: self.index.drafts_for(key), self.models.set_draft_report)

    def open_advisor(self, key: str) -> AdvisorDialog | None:
        if not key or key not in self.library.entries:
            return None
        dialog = AdvisorDialog(key, self.runtime, self, theme=self.themes.theme)
        dialog.saved.connect(self._on_advice_saved)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog) if dialog in self._dialogs else None)
        dialog.show()
        return dialog

    def _on_advice_saved(self, key: str) -> None:
        self._on_defaults_changed(key)
        self.models.select(key)
        self._compute_drafts_for_models_page(key)

    def _on_use_in_chat(self, key: str) -> None:
        self.nav.setCurrentRow(0)
        self.load_key(key)

    def _on_defaults_changed(self, key: str) -> None:
        if key == self.loaded_key and not self.chat.busy:
            self.chat.sidebar.set_values(self.defaults.effective(key))

    # --- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the reply in flight (keeping it), stop every thread, close the models."""
        self.worker.cancel.set()
        self.runtime.cancel_all()
        self.chat.save_partial()
        self.server_page.stop()
        for dialog in list(self._dialogs):
            dialog.close()
        for task in list(self._tasks):
            task.wait(30_000)
        self.thread_.quit()
        self.thread_.wait(30_000)
        self.worker.shutdown()
        self.runtime.close(timeout=30)
        self.store.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        event.accept()

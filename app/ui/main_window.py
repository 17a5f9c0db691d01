"""The main window: navigation, the model bar, the menus (app/ui/window_menus.py), and the
wiring between pages, the library and the engine thread. Which models the chat runs on is the
model state's (app/chat/model_state.py); the model controller carries its requests to the
engine thread and the thread's news back (app/ui/models/controller.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QThread, Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.chat.disk_space import disk_full
from app.chat.model_state import ModelState
from app.chat.store import ChatStore
from app.library.app_state import AppState
from app.library.atomic import file_warnings
from app.library.bundled import ensure_bundled_model
from app.library.compat_index import CompatibilityIndex, DraftReport
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.library.preferences import Preferences
from app.runtime import ModelRuntime
from app.ui.chat.page import ChatPage
from app.ui.chat.transfer import ConversationTransfer
from app.ui.engine_thread import EngineWorker
from app.ui.models.advisor_dialog import AdvisorDialog
from app.ui.models.controller import ModelController
from app.ui.models.model_bar import ModelBar
from app.ui.models.page import ModelsPage
from app.ui.models.server_dialog import AddServerDialog
from app.ui.models.servers_dialog import ServersDialog
from app.ui.navigation import Navigation
from app.ui.server.page import ServerPage
from app.ui.tasks import BackgroundTask, track
from app.ui.theme.colours import Theme
from app.ui.theme.resources import RESOURCES
from app.ui.theme.theming import ThemeManager
from app.ui.widgets.notice_banner import NoticeBanner
from app.ui.window_menus import WindowMenus

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    replyRequested = Signal(object)  # ReplyJob
    libraryReady = Signal()
    draftReportReady = Signal(object)
    modelReady = Signal(str)  # re-emitted in the GUI thread, for views and tests
    bundledProgress = Signal(int, int)
    draftReady = Signal(str)
    serversListed = Signal()  # the servers' models are listed (tests, views)

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
        self._tasks: list[BackgroundTask] = []
        self._closing = False  # no task starts once the window is shutting down
        self._dialogs: list[AdvisorDialog] = []
        self.preferences = preferences or Preferences()
        self.themes = ThemeManager(self.preferences, self)

        # one owner of loaded models for the chat, the local server and the advisor
        self.runtime = ModelRuntime(self.library, self.defaults, self.index)
        self.worker = EngineWorker(self.runtime)
        self.thread_ = track(QThread(self))
        self.thread_.setObjectName("engine")
        self.worker.moveToThread(self.thread_)
        self.replyRequested.connect(self.worker.generate)
        self.thread_.start()

        # the model bar: choosing a model loads it
        self.model_bar = ModelBar()
        self.model_combo = self.model_bar.picker
        self.eject_button = self.model_bar.eject_button
        self.progress = self.model_bar.progress
        self.status = self.model_bar.status

        # pages
        self.chat = ChatPage(self.store, self.preferences)
        self.models = ModelsPage(self.defaults)
        self.server_page = ServerPage(self.runtime)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.chat)
        self.pages.addWidget(self.models)
        self.pages.addWidget(self.server_page)
        self.nav = Navigation()
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
        central_l.addWidget(self.model_bar)
        self.notices = NoticeBanner()
        central_l.addWidget(self.notices)
        self.transfer = ConversationTransfer(self.chat.session, self)
        central_l.addWidget(self.transfer.offer)
        central_l.addWidget(body, 1)
        self.setCentralWidget(central)

        # wiring: the model state and the views that follow it; replies by their identity
        self.model_state = ModelState(self.library, self.defaults, self.chat.session, AppState())
        self.controller = ModelController(self.model_state, self.worker, self.index, self.run_task, self)
        self.controller.modelReady.connect(self.modelReady)
        self.controller.draftReady.connect(self.draftReady)
        self.controller.draftReportReady.connect(self.draftReportReady)
        self.model_bar.bind(self.model_state)
        self.model_bar.eject_button.clicked.connect(self.controller.eject)
        self.model_bar.stopRequested.connect(self.chat.stop)
        self.chat.bind_models(self.model_state)
        self.models.bind(self.model_state)
        replies = self.chat.replies
        w = self.worker
        w.replyStarted.connect(replies.on_started)
        w.tokensArrived.connect(replies.on_tokens)
        w.generationFinished.connect(replies.on_finished)
        w.generationFailed.connect(replies.on_failed)
        w.contextCounted.connect(self.chat.show_context)
        self.chat.contextCountRequested.connect(w.count_context)
        self.controller.modelReady.connect(lambda _key: self.chat.meter.count_now())
        self.chat.generateRequested.connect(self.replyRequested)
        self.chat.stopRequested.connect(self.worker.cancel.set)
        self.models.useInChat.connect(self._on_use_in_chat)
        self.models.draftsWanted.connect(self._compute_drafts_for_models_page)
        self.models.defaultsChanged.connect(self.model_state.on_defaults_changed)
        self.models.adviceWanted.connect(self.open_advisor)
        self.models.serverWanted.connect(self.add_server)
        self.models.serversWanted.connect(self.manage_servers)
        self.transfer.problemRaised.connect(self.chat.show_error)
        self.chat.conversations.exportRequested.connect(lambda cid, fmt: self.transfer.ask_export([cid], fmt))
        self.menus = WindowMenus(
            self,
            self.chat,
            self.transfer,
            self.themes,
            {
                "add_folder": self._on_add_folder,
                "import_model": self._on_import_model,
                "rescan": self.refresh_library,
                "choose_model": self._on_ctrl_l,
            },
        )
        self.menu_actions = self.menus.actions
        self.theme_actions = self.menus.theme_actions
        self.themes.changed.connect(self._on_theme_changed)
        self.themes.apply(force=True)

        self.chat.open_latest_or_new()
        self.show_file_notices()
        self.transfer.offer_lmstudio(AppState())
        self.refresh_library(prepare_bundled=auto_load)

    def show_file_notices(self) -> None:
        """What went wrong with our own files (set aside, read-only, dropped values)."""
        store_notice = [self.store.notice.message] if self.store.notice else []
        self.notices.show_messages(store_notice + file_warnings())

    def _on_theme_changed(self, theme: Theme) -> None:
        self.chat.set_theme(theme)
        self.model_bar.set_theme(theme)
        self.models.set_theme(theme)
        self.nav.set_theme(theme)

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
        task = self.run_task(job, lambda _e: self._on_library_scanned(None))
        task.progressed.connect(self._on_progress)

    # --- background work ---------------------------------------------------------------------
    def run_task(
        self, func: Callable[[Callable[[int, int], None]], Any], done: Callable[[Any], None]
    ) -> BackgroundTask:
        task = BackgroundTask(func, self)
        task.succeeded.connect(done)
        task.failedWith.connect(self.chat.show_error)
        task.finished.connect(self._prune_tasks)
        if self._closing:  # news the engine thread sent before it stopped starts nothing now
            return task
        self._tasks.append(task)
        task.start()
        return task

    def _prune_tasks(self) -> None:
        self._tasks = [t for t in self._tasks if not t.isFinished()]

    def _on_progress(self, done: int, total: int) -> None:
        self.model_bar.show_progress(done / max(total, 1))
        self.bundledProgress.emit(done, total)

    def refresh_library(self, prepare_bundled: bool = False) -> None:
        def job(report: Callable[[int, int], None]) -> Any:
            if prepare_bundled:
                ensure_bundled_model(report)
            self.library.rescan()
            return True

        self.model_state.say("Looking for models...")
        if prepare_bundled:
            self.progress.show()
        task = self.run_task(job, self._on_library_scanned)
        task.progressed.connect(self._on_progress)

    def _on_library_scanned(self, result: Any) -> None:
        self.progress.setVisible(bool(self.model_state.loading_key))
        self.show_file_notices()
        self.model_state.on_library_scanned(auto_load=self.auto_load)
        self.libraryReady.emit()
        if result is True:  # the files are listed: now the servers, each within its timeout
            self.refresh_servers()

    def refresh_servers(self) -> None:
        """Ask the servers added as model sources for their models, off the GUI thread: the
        window and the models on this computer never wait for them."""
        if self.library.servers.servers():
            self.run_task(lambda _r: self.library.refresh_servers(), self._on_servers_listed)

    def _on_servers_listed(self, _diff: Any) -> None:
        self.model_state.on_library_scanned(auto_load=self.auto_load)
        self.serversListed.emit()

    def add_server(self) -> AddServerDialog:
        """My Models' "Add a server": once added, its models are listed (off this thread)."""
        dialog = AddServerDialog(self.library.add_server, self)
        dialog.accepted.connect(self.refresh_servers)
        dialog.open()
        return dialog

    def manage_servers(self) -> ServersDialog:
        """My Models' "Servers…": the list, what each answered, add and remove."""
        dialog = ServersDialog(self.library, self)
        dialog.serversChanged.connect(self._on_servers_changed)
        self.serversListed.connect(dialog.show_servers)
        dialog.open()
        return dialog

    def _on_servers_changed(self) -> None:
        self._on_servers_listed(None)  # a removed server's models leave the lists at once
        self.refresh_servers()

    # --- loading (see ModelState) ------------------------------------------------------------------
    @property
    def loaded_key(self) -> str:
        return self.model_state.loaded_key

    @property
    def draft_key(self) -> str:
        return self.model_state.draft_key

    @property
    def load_failures(self) -> dict[str, str]:
        return self.model_state.failures

    def load_key(self, key: str, draft: str | None = None) -> None:
        self.model_state.load_key(key, draft)

    def _on_ctrl_l(self) -> None:
        self.model_combo.setFocus()
        self.model_combo.showPopup()

    # --- My Models -----------------------------------------------------------------------------
    def _compute_drafts_for_models_page(self, key: str) -> None:
        def show(report: DraftReport) -> None:
            self.models.show_drafts(self.model_state.choices_for(report))

        self.run_task(lambda _r: self.index.drafts_for(key), show)

    def open_advisor(self, key: str) -> AdvisorDialog | None:
        if not key or key not in self.library.entries:
            return None
        dialog = AdvisorDialog(
            key,
            self.runtime,
            self,
            theme=self.themes.theme,
            labels=self.model_state.labels,
            records=self.model_state.advice,
        )
        dialog.saved.connect(self._on_advice_saved)
        dialog.measured.connect(self._on_advice_measured)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _r: self._dialogs.remove(dialog) if dialog in self._dialogs else None)
        dialog.show()
        return dialog

    def _on_advice_saved(self, key: str) -> None:
        self.model_state.on_defaults_changed(key)
        self.models.select(key)
        self._compute_drafts_for_models_page(key)

    def _on_advice_measured(self, key: str) -> None:
        self.controller.after_advice(key)
        if self.models.selected_key() == key:
            self._compute_drafts_for_models_page(key)

    def _on_use_in_chat(self, key: str) -> None:
        self.nav.setCurrentRow(0)
        self.load_key(key)

    # --- closing ---------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop the reply in flight (keeping it, with its stats), stop every thread, close the
        models."""
        self._closing = True
        self.worker.cancel.set()
        self.runtime.cancel_all()
        self._let_the_reply_end()
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

    def _let_the_reply_end(self, timeout: float = 15.0) -> None:
        """A stopped reply ends within a round: take its last tokens and its real stats
        (queued for this thread) rather than saving it half-measured."""
        deadline = time.monotonic() + timeout
        while self.chat.busy and time.monotonic() < deadline:
            QCoreApplication.sendPostedEvents()
            time.sleep(0.01)
        QCoreApplication.sendPostedEvents()

    def _lost_on_close(self) -> str:
        """What closing now would lose to a full disk ("" when nothing): a reply kept until
        there is room, or the reply being written (kept at close only if it can be stored)."""
        session = self.chat.session
        if session.unsaved is not None and not session.save_unsaved():
            return f"The last reply is not saved yet: {session.unsaved.why}"
        full = disk_full(self.store.path.parent) if session.reply is not None else None
        return f"The reply being written cannot be saved: {full}" if full else ""

    def closeEvent(self, event: QCloseEvent) -> None:
        lost = self._lost_on_close()
        if lost:
            answer = QMessageBox.question(
                self, "The reply is not saved", f"{lost}. Close anyway, and lose it?"
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.shutdown()
        event.accept()

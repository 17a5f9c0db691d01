"""Starting the desktop app: QApplication, the asyncio loop (qasync), the window."""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.library.library import ModelLibrary
from app.logs import log_file
from app.ui.dialogs import CrashDialog, WelcomeDialog, first_run, mark_welcomed
from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Specula")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Specula")
    return app  # the window applies the theme (palette and stylesheet), see app.ui.theme.theming


def install_crash_handler(window: MainWindow) -> None:
    """An unhandled exception: log it, save the reply in flight, show what happened."""
    showing = False

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        nonlocal showing
        log.error("unhandled exception", exc_info=(exc_type, exc, tb))
        if showing or issubclass(exc_type, KeyboardInterrupt):
            return
        showing = True
        try:
            window.chat.save_partial()
        except Exception:
            log.exception("could not save the conversation in progress")
        try:
            CrashDialog(exc, log_file(), window).exec()
        finally:
            showing = False

    sys.excepthook = hook


def show_start_failure(error: BaseException) -> None:
    """Say in a window why the app could not start, and where the log is."""
    box = QMessageBox(
        QMessageBox.Icon.Critical,
        "Specula could not start",
        f"{type(error).__name__}: {error}\n\nThe log is at {log_file()}.",
    )
    box.setDetailedText("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    box.exec()


def open_welcome(window: MainWindow) -> WelcomeDialog | None:
    """The welcome, on the first start only. Seen once is enough: it is marked as shown when
    it opens (quitting with it still open does not bring it back at the next start)."""
    if not first_run():
        return None
    welcome = WelcomeDialog([r.path for r in ModelLibrary().roots()], window, window.themes.theme.draft)
    mark_welcomed()
    window.bundledProgress.connect(welcome.set_progress)
    window.libraryReady.connect(welcome.set_ready)

    def added(_result: int) -> None:
        if welcome.added_folder is not None:
            window.library.add_folder(welcome.added_folder)
            window.refresh_library()

    welcome.finished.connect(added)
    welcome.open()
    return welcome


def run_app(argv: list[str] | None = None) -> int:
    import qasync

    app = create_application(argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        window = MainWindow()
    except Exception as exc:  # started from a desktop launcher, stderr is seen by no one
        log.exception("the main window could not be created")
        show_start_failure(exc)
        return 1
    install_crash_handler(window)
    window.show()
    open_welcome(window)
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    return 0

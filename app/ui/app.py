"""Starting the desktop app: QApplication, the asyncio loop (qasync), the style, the window."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app import __version__
from app.ui.main_window import MainWindow

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Specula")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("Specula")
    style = RESOURCES / "style.qss"
    if style.exists():
        app.setStyleSheet(style.read_text(encoding="utf-8"))
    return app


def run_app(argv: list[str] | None = None) -> int:
    import qasync

    app = create_application(argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()
    closing = asyncio.Event()
    app.aboutToQuit.connect(closing.set)
    with loop:
        loop.run_until_complete(closing.wait())
    return 0

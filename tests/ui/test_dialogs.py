"""Welcome on first run, About, and the crash report that saves the conversation first."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.ui import app as app_module
from app.ui.dialogs import CrashDialog, WelcomeDialog, about_text, first_run
from app.ui.main_window import MainWindow


def test_welcome_is_shown_once_even_when_the_app_quits_with_it_open(qtbot):
    assert first_run()
    window = MainWindow(auto_load=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryReady, timeout=30_000):
        welcome = app_module.open_welcome(window)
    assert welcome is not None
    assert not first_run()  # seen: never again, though it was never closed
    assert app_module.open_welcome(window) is None
    window.shutdown()


def test_welcome_says_what_its_bar_says(qtbot, tmp_path):
    dialog = WelcomeDialog([tmp_path / "models"])
    qtbot.addWidget(dialog)
    dialog.set_progress(50, 100)
    assert dialog.progress.value() == 50
    assert "being prepared now" in dialog.bundled_note.text()
    dialog.set_ready()
    assert dialog.progress.value() == 100
    assert "ready" in dialog.bundled_note.text()
    assert "prepared now" not in dialog.bundled_note.text()


def test_about_names_the_version_and_engines():
    text = about_text()
    assert "Specula" in text
    assert "llama.cpp" in text
    assert "MLX" in text


def test_unhandled_exception_saves_the_reply_in_flight_and_reports(qtbot, monkeypatch):
    window = MainWindow(auto_load=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryReady, timeout=30_000):
        pass
    saved, shown = [], []
    monkeypatch.setattr(window.chat, "save_partial", lambda: saved.append(True))
    monkeypatch.setattr(CrashDialog, "exec", lambda self: shown.append(self.details) or 0)
    old_hook = app_module.sys.excepthook
    try:
        app_module.install_crash_handler(window)
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            app_module.sys.excepthook(type(exc), exc, exc.__traceback__)
    finally:
        app_module.sys.excepthook = old_hook
    assert saved == [True]
    assert shown
    assert "RuntimeError: boom" in shown[0]
    window.shutdown()


@pytest.mark.parametrize("content", [b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 16])
def test_a_model_that_fails_to_load_is_marked_in_my_models(qtbot, library_models, content):
    from app.library.paths import models_dir

    window = MainWindow(auto_load=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryReady, timeout=30_000):
        pass
    key = library_models["twin"]
    (models_dir() / "test" / "tiny" / "twin.gguf").write_bytes(content)  # broken after the scan
    window.load_key(key)
    qtbot.waitUntil(lambda: key in window.load_failures, timeout=30_000)
    table = window.models.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).data(Qt.ItemDataRole.UserRole) == key)
    assert table.item(row, 7).text()
    window.shutdown()

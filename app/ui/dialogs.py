"""The welcome shown on first start, the About box, and the crash report."""

from __future__ import annotations

import traceback
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.library.app_state import AppState
from app.library.model_labels import display_path
from app.ui.theme.colours import LIGHT


def first_run() -> bool:
    return not AppState().welcomed


def mark_welcomed() -> None:
    AppState().mark_welcomed()


BUNDLED_PREPARING = "A small model (Gemma 3 270M) comes with Specula and is being prepared now."
BUNDLED_READY = "A small model (Gemma 3 270M) comes with Specula: it is ready to chat."


class WelcomeDialog(QDialog):
    """Where models are looked for, the bundled model being prepared, how to add models."""

    def __init__(
        self, folders: list[Path], parent: QWidget | None = None, draft_colour: str = LIGHT.draft
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Welcome to Specula")
        self.added_folder: Path | None = None
        text = QLabel(
            "<h3>Welcome to Specula</h3>"
            "<p>Chat with models on this computer. With a <b>draft model</b>, replies come faster and "
            "stay exactly the main model's; accepted draft tokens show in "
            f"<span style='color:{draft_colour}'>green</span>.</p>"
            "<p><b>Models are looked for in:</b><br>"
            + "<br>".join(f"• {display_path(str(f))}" for f in folders)
            + "</p>"
            "<p>To add your own, put GGUF files or MLX folders in one of these folders, add a folder below, "
            "or use <i>specula models --import FILE</i>.</p>"
        )
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        self.bundled_note = QLabel(BUNDLED_PREPARING)  # follows the bar: never "preparing" when ready
        self.bundled_note.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFormat("Preparing the bundled model... %p%")
        add = QPushButton("Add a models folder...")
        add.clicked.connect(self._on_add_folder)
        start = QPushButton("Start chatting")
        start.setDefault(True)
        start.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addStretch(1)
        buttons.addWidget(start)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.bundled_note)
        layout.addWidget(self.progress)
        layout.addLayout(buttons)
        self.resize(560, 380)

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(100 * done / max(total, 1)))

    def set_ready(self) -> None:
        self.progress.setValue(100)
        self.progress.setFormat("The bundled model is ready")
        self.bundled_note.setText(BUNDLED_READY)

    def _on_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a models folder")
        if folder:
            self.added_folder = Path(folder)


def about_text() -> str:
    from app.engines.availability import llama_cpp_report, mlx_report

    ll = llama_cpp_report()
    mlx = mlx_report()
    llama = f"llama-cpp-python {ll.get('version')}" if ll.get("available") else "not available"
    mlx_text = str(mlx.get("device")) if mlx.get("available") else "not installed"
    return (
        f"<h3>Specula {__version__}</h3>"
        "<p>Chat with local LLMs, faster with speculative decoding you can see.</p>"
        f"<p>llama.cpp: {llama}<br>MLX: {mlx_text}</p>"
    )


def show_about(parent: QWidget) -> None:
    QMessageBox.about(parent, "About Specula", about_text())


class CrashDialog(QDialog):
    """An unhandled error: what happened, where the log is, and the details to copy."""

    def __init__(self, error: BaseException, log_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Something went wrong")
        self.details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        summary = QLabel(
            f"<b>{type(error).__name__}: {error}</b><p>Your conversation was saved. "
            f"The log is at <code>{log_path}</code>.</p>"
        )
        summary.setWordWrap(True)
        summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QPlainTextEdit(self.details)
        box.setReadOnly(True)
        copy = QPushButton("Copy details")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.details))
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(copy)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(box, 1)
        layout.addLayout(buttons)
        self.resize(640, 420)

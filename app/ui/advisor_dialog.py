""" "Find the best draft": runs the draft advisor off the GUI thread with progress and cancel,
then shows tok/s and acceptance per draft as a small chart, and saves the recommendation."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core import model_settings
from app.runtime import ModelRuntime
from app.runtime.advisor import Advice, advise, library_candidates
from app.ui.tasks import BackgroundTask
from app.ui.theme import LIGHT, Theme


def advice_chart(advice: Advice, theme: Theme = LIGHT, width: int = 460, row: int = 22) -> QPixmap:
    """One bar per candidate: length = tok/s, green share = acceptance."""
    pix = QPixmap(width, max(1, row * len(advice.results)))
    pix.fill(QColor(theme.surface))
    top = max((r.tokens_per_second for r in advice.results), default=1.0) or 1.0
    painter = QPainter(pix)
    label_w = 190
    for i, r in enumerate(advice.results):
        y = i * row
        painter.setPen(QColor(theme.text))
        painter.drawText(4, y, label_w - 8, row, Qt.AlignmentFlag.AlignVCenter, r.name[:28])
        w = int((width - label_w - 70) * r.tokens_per_second / top)
        painter.fillRect(label_w, y + 4, w, row - 8, QColor(theme.chart_rejected))
        if r.acceptance is not None:
            painter.fillRect(label_w, y + 4, int(w * r.acceptance), row - 8, QColor(theme.chart_accepted))
        painter.drawText(
            label_w + w + 6, y, 70, row, Qt.AlignmentFlag.AlignVCenter, f"{r.tokens_per_second:.1f}"
        )
    painter.end()
    return pix


class AdvisorDialog(QDialog):
    saved = Signal(str)

    def __init__(
        self, key: str, runtime: ModelRuntime, parent: QWidget | None = None, theme: Theme = LIGHT
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setWindowTitle("Find the best draft")
        self.key = key
        self.defaults = runtime.defaults
        self.cancel = threading.Event()
        self.advice: Advice | None = None
        entry = runtime.library.entries[key]
        self.title = QLabel(f"Measuring drafts for <b>{entry.name}</b> on code, prose and a list...")
        self.progress = QProgressBar()
        self.chart = QLabel()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.legend = QLabel("tok/s per draft; the green part is the share of draft tokens accepted")
        self.legend.hide()
        self.stop_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save as default draft")
        self.save_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.stop_button.clicked.connect(self.cancel.set)
        self.save_button.clicked.connect(self._on_save)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        for w in (self.title, self.progress, self.chart, self.legend, self.summary):
            layout.addWidget(w)
        layout.addLayout(buttons)

        engine = entry.engine

        def job(report: object) -> Advice:
            # Through the runtime: the chat's loaded models are measured as they are, not copied.
            candidates = library_candidates(runtime, key)
            settings = model_settings.draft_from(runtime.defaults.effective(key), engine)
            return advise(runtime, key, candidates, settings, progress=report, cancel=self.cancel)  # type: ignore[arg-type]

        self.task = BackgroundTask(job, self)
        self.task.progressed.connect(self._on_progress)
        self.task.succeeded.connect(self._on_done)
        self.task.failedWith.connect(self._on_failed)
        self.task.start()

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_done(self, advice: Advice) -> None:
        self.advice = advice
        self.progress.hide()
        self.stop_button.setEnabled(False)
        self.chart.setPixmap(advice_chart(advice, self.theme))
        self.legend.show()
        self.summary.setText(advice.summary)
        self.save_button.setEnabled(advice.recommended is not None)

    def _on_failed(self, message: str) -> None:
        self.progress.hide()
        self.stop_button.setEnabled(False)
        self.summary.setText(f"The advisor stopped: {message}")

    def _on_save(self) -> None:
        if self.advice is not None and self.advice.recommended is not None:
            self.defaults.update(self.key, {"draft_model": self.advice.recommended.key})
            self.saved.emit(self.key)
            self.summary.setText(self.advice.summary + " Saved as this model's default draft.")

    def closeEvent(self, event: object) -> None:
        self.cancel.set()
        self.task.wait(60_000)
        super().closeEvent(event)  # type: ignore[arg-type]

""" "Find the best draft": runs the draft advisor off the GUI thread with progress and cancel,
then shows tok/s and acceptance per draft as a small chart, and saves the recommendation
(a draft, or No draft when none beat the noise it measured)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.request import DraftSettings
from app.library.model_labels import base_label
from app.runtime import ModelRuntime
from app.runtime.advisor import NO_DRAFT, Advice, AdviceRecords, advise, library_candidates
from app.ui.tasks import BackgroundTask
from app.ui.theme.colours import LIGHT, Theme

BAR_WIDTH = 280
VALUE_WIDTH = 150


def advice_chart(
    advice: Advice, theme: Theme = LIGHT, font: QFont | None = None, names: Mapping[str, str] | None = None
) -> QPixmap:
    """One bar per candidate: length = tok/s, green share = acceptance. As wide as its longest
    name needs: nothing is cut."""
    font = font or QFont()
    fm = QFontMetrics(font)
    row = fm.height() + 10
    names = names or {}
    labels = [names.get(r.key) or r.name for r in advice.results]
    label_w = max((fm.horizontalAdvance(t) for t in labels), default=40) + 16
    width = label_w + BAR_WIDTH + VALUE_WIDTH
    pix = QPixmap(width, max(1, row * len(advice.results)))
    pix.fill(QColor(theme.surface))
    top = max((r.tokens_per_second for r in advice.results), default=1.0) or 1.0
    painter = QPainter(pix)
    painter.setFont(font)
    for i, (r, label) in enumerate(zip(advice.results, labels, strict=True)):
        y = i * row
        painter.setPen(QColor(theme.text))
        painter.drawText(4, y, label_w - 8, row, Qt.AlignmentFlag.AlignVCenter, label)
        w = max(1, int(BAR_WIDTH * r.tokens_per_second / top))
        painter.fillRect(label_w, y + 4, w, row - 8, QColor(theme.chart_rejected))
        if r.acceptance is not None:
            painter.fillRect(label_w, y + 4, int(w * r.acceptance), row - 8, QColor(theme.chart_accepted))
        value = f"{r.tokens_per_second:.1f} tok/s · {r.speedup:.2f}x"
        painter.drawText(
            label_w + w + 6, y, VALUE_WIDTH + BAR_WIDTH - w - 6, row, Qt.AlignmentFlag.AlignVCenter, value
        )
    painter.end()
    return pix


class AdvisorDialog(QDialog):
    saved = Signal(str)
    measured = Signal(str)  # main model key: its drafts' warnings may have changed

    def __init__(
        self,
        key: str,
        runtime: ModelRuntime,
        parent: QWidget | None = None,
        theme: Theme = LIGHT,
        labels: Mapping[str, str] | None = None,
        records: AdviceRecords | None = None,
    ) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setWindowTitle("Find the best draft")
        self.key = key
        self.defaults = runtime.defaults
        self.records = records
        self.cancel = threading.Event()
        self.advice: Advice | None = None
        entry = runtime.library.entries[key]
        self.labels = dict(labels or {})
        self.model_name = self.labels.get(key) or base_label(entry)
        self.title = QLabel(f"Measuring drafts for <b>{self.model_name}</b> on code, prose and a list...")
        self.title.setObjectName("advisorHeading")
        self.title.setWordWrap(True)
        self.progress = QProgressBar()
        self.chart = QLabel()
        self.chart.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.legend = QLabel(
            "tok/s per draft and the speed-up over no draft; the green part is the share of draft "
            "tokens the main model accepted"
        )
        self.legend.setWordWrap(True)
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
        self.setMinimumWidth(520)

        engine = entry.engine

        def job(report: object) -> Advice:
            # Through the runtime: the chat's loaded models are measured as they are, not copied.
            candidates = library_candidates(runtime, key)
            for c in candidates:
                c.name = self.labels.get(c.key) or c.name
            settings = DraftSettings.from_values(runtime.defaults.effective(key), engine)
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
        if advice.cancelled:
            self.title.setText(f"Stopped: not every draft for <b>{self.model_name}</b> was measured")
        else:
            n = sum(1 for r in advice.results if r.key != NO_DRAFT)
            self.title.setText(
                f"Done: measured {n} draft{'s' if n != 1 else ''} (and no draft) for <b>{self.model_name}</b>"
            )
        names = {r.key: r.name for r in advice.results}
        pix = advice_chart(advice, self.theme, self.font(), names)
        self.chart.setPixmap(pix)
        self.chart.setMinimumSize(pix.size())
        self.legend.show()
        self.summary.setText(advice.summary)
        if not advice.cancelled:
            self.save_button.setEnabled(True)
            if advice.recommended is None:
                self.save_button.setText("Save “No draft” as default")
            if self.records is not None:
                self.records.remember(self.key, advice)
                self.measured.emit(self.key)
        self.adjustSize()

    def _on_failed(self, message: str) -> None:
        self.progress.hide()
        self.stop_button.setEnabled(False)
        self.title.setText("The advisor stopped")
        self.summary.setText(f"The advisor stopped: {message}")

    def _on_save(self) -> None:
        if self.advice is None or self.advice.cancelled:
            return
        chosen = self.advice.recommended.key if self.advice.recommended is not None else None
        self.defaults.update(self.key, {"draft_model": chosen})
        self.saved.emit(self.key)
        self.summary.setText(self.advice.summary + " Saved as this model's default.")

    def closeEvent(self, event: object) -> None:
        self.cancel.set()
        self.task.wait(60_000)
        super().closeEvent(event)  # type: ignore[arg-type]

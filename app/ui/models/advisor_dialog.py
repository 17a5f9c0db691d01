""" "Find the best draft": runs the draft advisor off the GUI thread, saying what it measures
and about how long is left (Cancel answers within a decoding step), then charts each draft's
speed-up over no draft measured alongside it, with the band the conditions moved by, and
saves the recommendation (a draft, or No draft when none cleared its band)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPixmap
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
from app.runtime.advisor import (
    NO_DRAFT,
    Advice,
    AdviceRecords,
    AdvisorResult,
    AdvisorStep,
    advise,
    library_candidates,
)
from app.ui.tasks import BackgroundTask
from app.ui.theme.colours import LIGHT, Theme

BAR_WIDTH = 280
VALUE_WIDTH = 190


def value_text(r: AdvisorResult) -> str:
    """A bar's figure: its speed-up and band; no draft's own speed."""
    if r.key == NO_DRAFT:
        return f"1.00x · {r.tokens_per_second:.1f} tok/s"
    band = f" ±{100 * r.noise:.0f}%" if r.noise else ""
    noise = " · within noise" if r.within_noise else ""
    return f"{r.speedup:.2f}x{band}{noise}"


def advice_chart(
    advice: Advice, theme: Theme = LIGHT, font: QFont | None = None, names: Mapping[str, str] | None = None
) -> QPixmap:
    """One bar per candidate: length = speed-up over no draft measured alongside it, green
    share = acceptance; a line at 1x, and around it each draft's noise band (how far no draft
    moved while it was measured), so a bar inside its band reads as what it is. As wide as
    its longest name needs: nothing is cut."""
    font = font or QFont()
    fm = QFontMetrics(font)
    row = fm.height() + 10
    names = names or {}
    labels = [names.get(r.key) or r.name for r in advice.results]
    label_w = max((fm.horizontalAdvance(t) for t in labels), default=40) + 16
    values = [value_text(r) for r in advice.results]
    value_w = max([VALUE_WIDTH, *(fm.horizontalAdvance(v) + 12 for v in values)])
    width = label_w + BAR_WIDTH + value_w
    pix = QPixmap(width, max(1, row * len(advice.results)))
    pix.fill(QColor(theme.surface))
    top = max([1.0, *(r.speedup * 1.0 for r in advice.results), *(1.0 + r.noise for r in advice.results)])
    scale = BAR_WIDTH / (top * 1.05)
    one = label_w + int(scale)
    painter = QPainter(pix)
    painter.setFont(font)
    band_colour = QColor(theme.muted)
    band_colour.setAlpha(60)
    for i, (r, label, value) in enumerate(zip(advice.results, labels, values, strict=True)):
        y = i * row
        painter.setPen(QColor(theme.text))
        painter.drawText(4, y, label_w - 8, row, Qt.AlignmentFlag.AlignVCenter, label)
        w = max(1, int(scale * r.speedup))
        painter.fillRect(label_w, y + 4, w, row - 8, QColor(theme.chart_rejected))
        if r.acceptance is not None:
            painter.fillRect(label_w, y + 4, int(w * r.acceptance), row - 8, QColor(theme.chart_accepted))
        if r.noise:
            lo, hi = label_w + scale * max(0.0, 1 - r.noise), label_w + scale * (1 + r.noise)
            painter.fillRect(QRectF(lo, y + 1, hi - lo, row - 2), band_colour)
        painter.setPen(QColor(theme.text))
        at = label_w + w + 6
        painter.drawText(at, y, width - at, row, Qt.AlignmentFlag.AlignVCenter, value)
    painter.setPen(QPen(QColor(theme.text), 1, Qt.PenStyle.DashLine))
    painter.drawLine(one, 0, one, pix.height())
    painter.end()
    return pix


def time_left(started: float, step: AdvisorStep, now: float) -> str:
    """About how long the runs left take, at the pace of those done."""
    if step.done <= 0:
        return "working out the time left"
    left = (now - started) / step.done * (step.total - step.done)
    if left < 60:
        return "under a minute left"
    return f"about {round(left / 60)} min left"


class AdvisorDialog(QDialog):
    saved = Signal(str)
    measured = Signal(str)  # main model key: its drafts' warnings may have changed
    stepped = Signal(object)  # AdvisorStep, from the advisor's thread

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
        self.title = QLabel(
            f"Measuring drafts for <b>{self.model_name}</b> on code, prose and a list, each "
            "between two runs without a draft (the speed to beat, here and now)..."
        )
        self.title.setObjectName("advisorHeading")
        self.title.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.now = QLabel("Starting...")  # what runs now, how many runs are done, the time left
        self.now.setWordWrap(True)
        self._started = time.monotonic()
        self.chart = QLabel()
        self.chart.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.legend = QLabel(
            "Each bar is a draft's speed-up over no draft measured just before and after it; the "
            "dashed line is 1x (no faster), the shaded band how far no draft's speed moved meanwhile "
            "(a bar inside it is noise). The green part is the share of draft tokens the main model "
            "accepted."
        )
        self.legend.setWordWrap(True)
        self.legend.hide()
        self.stop_button = QPushButton("Cancel")
        self.save_button = QPushButton("Save as default draft")
        self.save_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        self.stop_button.clicked.connect(self._on_cancel)
        self.save_button.clicked.connect(self._on_save)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        for w in (self.title, self.progress, self.now, self.chart, self.legend, self.summary):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

        engine = entry.engine

        def job(_report: object) -> Advice:
            # Through the runtime: the chat's loaded models are measured as they are, not copied.
            candidates = library_candidates(runtime, key)
            for c in candidates:
                c.name = self.labels.get(c.key) or c.name
            settings = DraftSettings.from_values(runtime.defaults.effective(key), engine)
            return advise(runtime, key, candidates, settings, progress=self.stepped.emit, cancel=self.cancel)

        self.stepped.connect(self._on_step)
        self.task = BackgroundTask(job, self)
        self.task.succeeded.connect(self._on_done)
        self.task.failedWith.connect(self._on_failed)
        self.task.start()

    def _on_step(self, step: AdvisorStep) -> None:
        self.progress.setRange(0, step.total)
        self.progress.setValue(step.done)
        if step.doing and not self.cancel.is_set():
            left = time_left(self._started, step, time.monotonic())
            self.now.setText(f"Now: {step.doing} · run {step.done + 1} of {step.total} · {left}")

    def _on_cancel(self) -> None:
        """Answered at once: the advisor stops within a decoding step."""
        self.cancel.set()
        self.stop_button.setEnabled(False)
        self.stop_button.setText("Stopping...")
        self.now.setText("Stopping...")

    def _on_done(self, advice: Advice) -> None:
        self.advice = advice
        self.progress.hide()
        self.now.hide()
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
        self.now.hide()
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

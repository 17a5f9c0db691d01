"""The context meter under the message box: "1,234 / 4,096 tokens" and a thin bar, amber from
80% with what the Context Overflow policy will do (the reading: app/chat/context_meter.py).

The page asks for a count (debounced while typing, at once after a reply or a switch of
conversation or model); the engine thread counts on the loaded model and answers with a
reading that names its request, so an older count never replaces a newer one.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from app.chat.context_meter import ContextReading
from app.core.context_overflow import CONSEQUENCES

DEBOUNCE_MS = 400  # a count after typing pauses this long
BAR_STEPS = 1000


class ContextMeter(QWidget):
    """`countRequested(serial)` when a count is due; `show_reading` shows the latest one."""

    countRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contextMeter")
        self.label = QLabel()
        self.label.setObjectName("contextMeterText")
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setObjectName("contextMeterBar")
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(4)
        self.bar.setFixedWidth(120)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        self.serial = 0
        self.reading: ContextReading | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.count_now)
        self.hide()

    def count_soon(self) -> None:
        """Typing: count once it pauses."""
        self._timer.start()

    def count_now(self) -> None:
        self._timer.stop()
        self.serial += 1
        self.countRequested.emit(self.serial)

    def clear(self) -> None:
        """No model loaded: nothing to count against."""
        self.reading = None
        self.hide()

    def show_reading(self, reading: ContextReading) -> None:
        if reading.serial != self.serial:
            return  # an older count: a newer one is on its way
        self.reading = reading
        note = reading.note
        self.label.setText(f"{reading.text} · {note}" if note else reading.text)
        self.bar.setValue(min(BAR_STEPS, round(BAR_STEPS * reading.fraction)))
        self.setToolTip(
            f"What the model reads for the next reply, of its context ({reading.n_ctx:,} tokens).\n"
            f"Context Overflow: {reading.policy.label}: {CONSEQUENCES[reading.policy]}."
        )
        for widget in (self.label, self.bar):
            if widget.property("filling") != reading.filling:
                widget.setProperty("filling", reading.filling)
                widget.style().unpolish(widget)
                widget.style().polish(widget)
        self.show()

"""A one-line label that gives way: when there is not room for its text it shows it elided
(the whole text on hover), and it never asks for more width than a few characters, so a long
name cannot widen the window."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

MIN_CHARS = 8  # the least it shows before eliding further: "Gemma 3…"


class ElidedLabel(QLabel):
    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
    ) -> None:
        super().__init__(text, parent)
        self.mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._own_tip = ""

    def setText(self, text: str) -> None:
        super().setText(text)
        self.updateGeometry()
        self._update_tip()
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(min(fm.horizontalAdvance(self.text()), fm.averageCharWidth() * MIN_CHARS), fm.height())

    def is_elided(self) -> bool:
        return self.shown_text() != self.text()

    def shown_text(self) -> str:
        rect = self.contentsRect()
        return self.fontMetrics().elidedText(self.text(), self.mode, rect.width())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.setFont(self.font())
        align = self.alignment() | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(self.contentsRect(), int(align.value), self.shown_text())
        painter.end()

    def set_tip(self, tip: str) -> None:
        """What hovering says (after the whole text, when it is elided)."""
        self._own_tip = tip
        self._update_tip()

    def _update_tip(self) -> None:
        whole = self.text() if self.is_elided() else ""
        self.setToolTip("\n".join(t for t in (whole, self._own_tip) if t))

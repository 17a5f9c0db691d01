"""The model bar's picker: every model with its size and folder, the loaded ones marked;
choosing one loads it (one click)."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app.engines.mlx import mlx_available
from app.library.entry import ModelEntry
from app.library.model_labels import distinct_labels, folder_of, hover_text, human_size, server_state
from app.ui.theme.colours import LIGHT, Theme

DETAIL_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_ROLE = Qt.ItemDataRole.UserRole + 2  # "", "Loaded", "Draft"
PLACEHOLDER = "Select a model to load (Ctrl+L)"


def detail_line(e: ModelEntry) -> str:
    if e.remote is not None:  # the server's name, kind and whether it answered
        return " · ".join(p for p in (e.params_label, server_state(e)) if p)
    parts = [e.params_label, human_size(e.size_bytes), e.engine, folder_of(e)]
    if e.engine == "MLX" and not mlx_available():
        parts.append("needs the MLX engine")
    return " · ".join(p for p in parts if p)


class _TwoLineDelegate(QStyledItemDelegate):
    def __init__(self, picker: ModelPicker) -> None:
        super().__init__(picker)
        self.picker = picker

    def sizeHint(
        self,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,  # noqa: ARG002 (the interface's signature)
    ) -> QSize:
        fm = option.fontMetrics
        return QSize(420, fm.height() * 2 + 14)

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        t = self.picker.theme
        rect: QRect = option.rect
        painter.save()
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        painter.fillRect(rect, QColor(t.surface_alt if (selected or hovered) else t.surface))
        font = QFont(option.font)
        bold = QFont(font)
        bold.setWeight(QFont.Weight.DemiBold)
        fm = option.fontMetrics
        state = str(index.data(STATE_ROLE) or "")
        inner = rect.adjusted(12, 6, -12, -6)
        badge_w = fm.horizontalAdvance(state) + 16 if state else 0
        painter.setFont(bold)
        painter.setPen(QColor(t.text))
        name = fm.elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)),
            Qt.TextElideMode.ElideRight,
            inner.width() - badge_w - 8,
        )
        painter.drawText(
            inner.adjusted(0, 0, -badge_w, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name
        )
        painter.setFont(font)
        painter.setPen(QColor(t.muted))
        detail = fm.elidedText(
            str(index.data(DETAIL_ROLE) or ""), Qt.TextElideMode.ElideMiddle, inner.width()
        )
        painter.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, detail)
        if state:
            badge = QRect(inner.right() - badge_w, inner.top(), badge_w, fm.height() + 2)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(t.draft_bg))
            painter.drawRoundedRect(badge, 6, 6)
            painter.setPen(QColor(t.draft))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, state)
        painter.restore()


class ModelPicker(QComboBox):
    modelChosen = Signal(str)  # key, when the user picks a model

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPicker")
        self.theme: Theme = LIGHT
        self.setPlaceholderText(PLACEHOLDER)
        self.setToolTip("Choose a model to load it (Ctrl+L)")
        self.setItemDelegate(_TwoLineDelegate(self))
        self.setMinimumContentsLength(28)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.view().setMinimumWidth(480)
        self.activated.connect(self._on_activated)
        self._loaded: dict[str, str] = {}

    def set_entries(self, entries: Iterable[ModelEntry], current: str = "") -> None:
        """Every model, by a label no other shares (folder and file are added when needed),
        its path on hover."""
        entries = list(entries)
        labels = distinct_labels(entries)
        self.blockSignals(True)
        self.clear()
        for e in sorted(entries, key=lambda e: (e.name.lower(), e.key)):
            self.addItem(labels[e.key], e.key)
            i = self.count() - 1
            self.setItemData(i, detail_line(e), DETAIL_ROLE)
            self.setItemData(i, hover_text(e), Qt.ItemDataRole.ToolTipRole)
        self._mark()
        self.select(current)
        self.blockSignals(False)

    def set_loaded(self, main: str, draft: str = "") -> None:
        self._loaded = {k: v for k, v in ((main, "Loaded"), (draft, "Draft")) if k}
        self._mark()

    def _mark(self) -> None:
        for i in range(self.count()):
            self.setItemData(i, self._loaded.get(str(self.itemData(i)), ""), STATE_ROLE)

    def select(self, key: str) -> None:
        self.setCurrentIndex(self.findData(key) if key else -1)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.view().viewport().update()

    def _on_activated(self, index: int) -> None:
        key = self.itemData(index)
        if key:
            self.modelChosen.emit(str(key))

"""My Models' table: every model found (and every file that could not be read), fitted to its
width at any window size.

Each model is named as the model bar names it (a label no other row shares), the path is elided
at its start so the file name shows, a long problem is elided (whole on hover), and when there
is no room the least needed columns are left out; every row says all of it on hover. There is
never a sideways scroll bar, and no column is cut at the table's edge.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.library.entry import ModelEntry, ScanProblem
from app.library.model_labels import display_path, distinct_labels, hover_text, human_size
from app.ui.theme.colours import LIGHT, Theme

COLUMNS = ("Name", "Engine", "Architecture", "Parameters", "Quantization", "Size", "Path", "Problems")
NAME_COLUMN, PATH_COLUMN, PROBLEMS_COLUMN = 0, 6, 7
DROPPED_FIRST = (2, 1, 3, 5)  # Architecture, Engine, Parameters, Size: left out in turn when narrow
PATH_MIN = 160  # the path column is at least this wide, and shows at least "…/<file name>"
SHARE_MAX = 0.3  # the most of the table's width the name or the problems column takes
PATH_SHARE_MAX = 0.45  # ... and the path's file name


class _ElideStart(QStyledItemDelegate):
    """A path elided at its start: the file name is what tells rows apart."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideLeft


class LibraryTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.theme: Theme = LIGHT
        self.setObjectName("modelsTable")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setItemDelegateForColumn(PATH_COLUMN, _ElideStart(self))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # fitted to the width: fit_columns
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 14)

    # --- rows ---------------------------------------------------------------------------------
    def show_library(
        self,
        entries: dict[str, ModelEntry],
        problems: list[ScanProblem],
        failures: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """`labels`: key -> a name no other model shares (the model bar's); `failures`: why a
        model did not load."""
        names = {**distinct_labels(entries.values()), **(labels or {})}
        rows: list[tuple[str | None, list[str]]] = [
            (
                e.key,
                [
                    names.get(e.key) or e.name,
                    e.engine,
                    e.architecture,
                    e.params_label,
                    e.quantization or "",
                    human_size(e.size_bytes),
                    display_path(e.path),
                    (failures or {}).get(e.key, ""),
                ],
            )
            for e in sorted(entries.values(), key=lambda e: e.key)
        ]
        rows.extend(
            (None, [p.path.rsplit("/", 1)[-1], "", "", "", "", "", p.path, p.reason]) for p in problems
        )
        self.setRowCount(len(rows))
        for r, (key, cells) in enumerate(rows):
            entry = entries.get(key) if key else None
            row_tip = _row_tip(cells, entry)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setToolTip(text if c in (PATH_COLUMN, PROBLEMS_COLUMN) and text else row_tip)
                if key is None:
                    item.setForeground(QColor(self.theme.danger_text))
                self.setItem(r, c, item)
        self.fit_columns()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for r in range(self.rowCount()):
            for c in range(self.columnCount()):
                item = self.item(r, c)
                if item is not None and item.data(Qt.ItemDataRole.UserRole) is None:
                    item.setForeground(QColor(theme.danger_text))

    def selected_key(self) -> str | None:
        items = self.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select(self, key: str) -> None:
        for r in range(self.rowCount()):
            item = self.item(r, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == key:
                self.selectRow(r)
                return

    # --- fitting the width --------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_columns()

    def _content_width(self, column: int) -> int:
        header = self.horizontalHeader()
        return max(header.sectionSizeFromContents(column).width(), self.sizeHintForColumn(column))

    def fit_columns(self) -> None:
        """Every shown column inside the table's width, none squeezed below what it needs to
        be read: the path takes what is left, at least PATH_MIN; without room, Architecture,
        Engine and Parameters are left out (the rows' tooltips still say them). The Problems
        column shows when a row has one."""
        total = self.viewport().width()
        if total <= 0:
            return
        has_problems = any(
            (item := self.item(r, PROBLEMS_COLUMN)) is not None and item.text()
            for r in range(self.rowCount())
        )
        wanted = {c: self._content_width(c) for c in range(len(COLUMNS))}
        cap = int(total * SHARE_MAX)
        wanted[NAME_COLUMN] = min(wanted[NAME_COLUMN], cap)
        wanted[PROBLEMS_COLUMN] = min(wanted[PROBLEMS_COLUMN], cap)
        shown = [c for c in range(len(COLUMNS)) if c not in (PATH_COLUMN, PROBLEMS_COLUMN)]
        if has_problems:
            shown.append(PROBLEMS_COLUMN)
        path_min = min(max(PATH_MIN, self._file_name_width()), int(total * PATH_SHARE_MAX))
        for dropped in (None, *DROPPED_FIRST):
            if dropped is not None:
                shown.remove(dropped)
            if total - sum(wanted[c] for c in shown) >= path_min:
                break
        for c in range(len(COLUMNS)):
            self.setColumnHidden(c, c != PATH_COLUMN and c not in shown)
        for c in shown:
            self.setColumnWidth(c, wanted[c])
        self.setColumnWidth(PATH_COLUMN, max(total - sum(wanted[c] for c in shown), 40))

    def _file_name_width(self) -> int:
        """What the path column needs to show every file name whole, after an ellipsis."""
        fm = self.fontMetrics()
        names = (
            item.text().rsplit("/", 1)[-1]
            for r in range(self.rowCount())
            if (item := self.item(r, PATH_COLUMN))
        )
        return max((fm.horizontalAdvance(f"…/{n}") for n in names), default=0) + 2 * self._margin()

    def _margin(self) -> int:
        return self.style().pixelMetric(self.style().PixelMetric.PM_FocusFrameHMargin) + 1

    def shown_text(self, row: int, column: int) -> str:
        """What a cell shows, elided as it is drawn (tests, accessibility)."""
        item = self.item(row, column)
        if item is None or self.isColumnHidden(column):
            return ""
        mode = Qt.TextElideMode.ElideLeft if column == PATH_COLUMN else Qt.TextElideMode.ElideRight
        return self.fontMetrics().elidedText(item.text(), mode, self.columnWidth(column) - 2 * self._margin())


def _row_tip(cells: list[str], entry: ModelEntry | None) -> str:
    """Everything about a row, whichever columns there is room for."""
    lines = [hover_text(entry)] if entry is not None else [cells[PATH_COLUMN]]
    details = " · ".join(t for t in cells[1:PATH_COLUMN] if t)
    if details:
        lines.append(details)
    if cells[PROBLEMS_COLUMN]:
        lines.append(cells[PROBLEMS_COLUMN])
    return "\n".join(lines)

"""My Models: the library as a table, and the selected model's defaults, saved on change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core import model_settings
from app.core.errors import SpeculaError
from app.core.model_settings import MODEL_SETTINGS
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.compat_index import DraftReport
from app.library.entry import ModelEntry, ScanProblem
from app.library.model_defaults import ModelDefaultsStore
from app.library.model_labels import base_label, display_path, hover_text, human_size, translated, warned
from app.ui.chat.sidebar import LLAMA_DRAFT_SETTINGS
from app.ui.models.picker import short_label
from app.ui.theme.colours import LIGHT, Theme
from app.ui.widgets.settings_form import SettingsForm

COLUMNS = ("Name", "Engine", "Architecture", "Parameters", "Quantization", "Size", "Path", "Problems")
PATH_COLUMN = 6
# the defaults form, in groups side by side: (title, setting group, grid row, grid column)
FORM_GROUPS = (
    ("Speculative decoding", "speculative", 0, 0),
    ("Context and GPU (applied when loaded)", "load", 1, 0),
    ("Sampling", "sampling", 0, 1),
    ("System prompt", "prompt", 1, 1),
)

__all__ = ["ModelsPage", "display_path", "human_size"]


class ModelsPage(QWidget):
    useInChat = Signal(str)  # model key
    draftsWanted = Signal(str)  # model key: the window computes the report off-thread
    defaultsChanged = Signal(str)  # model key
    adviceWanted = Signal(str)  # model key: "Find the best draft"

    def __init__(self, defaults: ModelDefaultsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.defaults = defaults
        self.entries: dict[str, ModelEntry] = {}
        self.theme: Theme = LIGHT
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(PATH_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 14)
        self.table.itemSelectionChanged.connect(self._on_selection)

        editor = QWidget()
        ed = QVBoxLayout(editor)
        ed.setContentsMargins(4, 8, 4, 4)
        self.title = QLabel("Select a model to edit its defaults")
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel("Defaults apply in chat and through the API.")
        self.subtitle.setObjectName("muted")
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.draft_combo = QComboBox()
        self.draft_combo.setObjectName("defaultDraftCombo")
        self.draft_combo.currentIndexChanged.connect(self._on_draft_changed)
        self.forms: list[SettingsForm] = []
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        for title, group_name, row, column in FORM_GROUPS:
            names = [s.name for s in MODEL_SETTINGS if s.group == group_name and s.name != "draft_model"]
            form = SettingsForm(names)
            form.valueChanged.connect(self._on_value_changed)
            self.forms.append(form)
            box = QGroupBox(title)
            box_l = QVBoxLayout(box)
            if group_name == "speculative":
                draft_row = QFormLayout()
                draft_row.addRow("Default draft model", self.draft_combo)
                box_l.addLayout(draft_row)
            box_l.addWidget(form)
            box_l.addStretch(1)
            grid.addWidget(box, row, column)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.status = QLabel()
        self.status.setObjectName("defaultsStatus")
        self.use_button = QPushButton("Use in chat")
        self.use_button.setToolTip("Load this model (and its default draft) in the chat")
        self.use_button.clicked.connect(self._on_use)
        self.advise_button = QPushButton("Find the best draft")
        self.advise_button.setToolTip("Benchmark every compatible draft (and none) on a few prompts")
        self.advise_button.clicked.connect(lambda: self.adviceWanted.emit(self.selected_key() or ""))
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.clicked.connect(self._on_reset)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.advise_button)
        buttons.addWidget(self.status)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        ed.addWidget(self.title)
        ed.addWidget(self.subtitle)
        ed.addLayout(grid)
        ed.addLayout(buttons)
        ed.addStretch(1)
        editor.setMaximumWidth(1100)
        editor.setEnabled(False)
        self.editor = editor
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(editor)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(splitter)
        self._filling = False
        self._show_defaults()

    def _show_defaults(self) -> None:
        """Nothing selected: the built-in defaults, greyed out (never a spin box's minimum)."""
        values = model_settings.defaults()
        for form in self.forms:
            form.set_values({k: v for k, v in values.items() if k in form.editors})
        self._filling = True
        self.draft_combo.clear()
        self.draft_combo.addItem("No default draft", "")
        self._filling = False

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                if item is not None and item.data(Qt.ItemDataRole.UserRole) is None:
                    item.setForeground(QColor(theme.danger_text))

    def set_library(
        self,
        entries: dict[str, ModelEntry],
        problems: list[ScanProblem],
        failures: dict[str, str] | None = None,
    ) -> None:
        selected = self.selected_key()
        self.entries = dict(entries)
        rows: list[tuple[str | None, list[str]]] = []
        for e in sorted(entries.values(), key=lambda e: e.key):
            rows.append(
                (
                    e.key,
                    [
                        e.name,
                        e.engine,
                        e.architecture,
                        e.params_label,
                        e.quantization or "",
                        human_size(e.size_bytes),
                        display_path(e.path),
                        (failures or {}).get(e.key, ""),
                    ],
                )
            )
        for p in problems:
            rows.append((None, [p.path.rsplit("/", 1)[-1], "", "", "", "", "", p.path, p.reason]))
        self.table.setRowCount(len(rows))
        for r, (key, cells) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, key)
                item.setToolTip(text)
                if key is None:
                    item.setForeground(QColor(self.theme.danger_text))
                self.table.setItem(r, c, item)
        if selected:
            self.select(selected)

    def selected_key(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select(self, key: str) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == key:
                self.table.selectRow(r)
                return

    def _on_selection(self) -> None:
        key = self.selected_key()
        self.editor.setEnabled(key is not None)
        if key is None:
            self.title.setText("Select a model to edit its defaults")
            self._show_defaults()
            return
        entry = self.entries[key]
        self.title.setText(short_label(entry))
        self.subtitle.setText(f"{entry.key} · defaults apply in chat and through the API")
        values = self.defaults.effective(key)
        for form in self.forms:
            form.set_values({k: v for k, v in values.items() if k in form.editors})
            if "mlx_draft_tokens" in form.editors:
                form.set_row_visible("mlx_draft_tokens", entry.engine == "MLX")
                for name in LLAMA_DRAFT_SETTINGS:
                    form.set_row_visible(name, entry.engine != "MLX")
        self._filling = True
        self.draft_combo.clear()
        self.draft_combo.addItem("Identifying compatible draft models...", "")
        self.draft_combo.setEnabled(False)
        self._filling = False
        self.status.clear()
        self.draftsWanted.emit(key)

    def set_draft_report(
        self,
        report: DraftReport,
        labels: Mapping[str, str] | None = None,
        warnings: Mapping[str, str] | None = None,
        tooltips: Mapping[str, str] | None = None,
    ) -> None:
        """The default draft's choices: names that tell models apart (the path on hover), ⚠ on
        a draft that cannot be faster."""
        if report.main.key != self.selected_key():
            return
        labels, warnings, tooltips = labels or {}, warnings or {}, tooltips or {}
        saved = self.defaults.get(report.main.key).get("draft_model") or ""
        self._filling = True
        self.draft_combo.clear()
        self.draft_combo.addItem("No default draft", "")
        lookup_warning = warnings.get(PROMPT_LOOKUP_KEY)
        self.draft_combo.addItem(
            f"⚠ {PROMPT_LOOKUP_NAME}" if lookup_warning else PROMPT_LOOKUP_NAME, PROMPT_LOOKUP_KEY
        )
        if lookup_warning:
            self.draft_combo.setItemData(1, f"⚠ {lookup_warning}", Qt.ItemDataRole.ToolTipRole)
        for o in report.compatible:
            label = labels.get(o.entry.key) or base_label(o.entry)
            label = translated(label, o.translated)  # ≈: drafts through translation
            self.draft_combo.addItem(warned(label, warnings.get(o.entry.key, "")), o.entry.key)
            tip = tooltips.get(o.entry.key) or hover_text(o.entry, warnings.get(o.entry.key, ""))
            self.draft_combo.setItemData(self.draft_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.draft_combo.setCurrentIndex(max(0, self.draft_combo.findData(saved)))
        self.draft_combo.setEnabled(True)
        self._filling = False

    def _save(self, values: dict[str, Any]) -> None:
        key = self.selected_key()
        if key is None:
            return
        try:
            self.defaults.update(key, values)
        except SpeculaError as exc:
            self.status.setText(f"Not saved: {exc}")
            return
        self.status.setText("Saved")
        self.defaultsChanged.emit(key)

    def _on_value_changed(self, name: str, value: Any) -> None:
        self._save({name: value})

    def _on_draft_changed(self, _index: int) -> None:
        if not self._filling:
            self._save({"draft_model": self.draft_combo.currentData() or None})

    def _on_reset(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.defaults.reset(key)
            self._on_selection()
            self.defaultsChanged.emit(key)

    def _on_use(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.useInChat.emit(key)

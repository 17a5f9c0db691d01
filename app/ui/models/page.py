"""My Models: the library as a table, and the selected model's defaults, saved on change."""

from __future__ import annotations

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

from app.chat.draft_choices import DraftChoices
from app.chat.model_state import ModelState
from app.core import model_settings
from app.core.errors import SpeculaError
from app.library.entry import ModelEntry, ScanProblem
from app.library.model_defaults import ModelDefaultsStore
from app.library.model_labels import display_path, human_size, short_label
from app.ui.theme.colours import LIGHT, Theme
from app.ui.widgets.draft_combo import fill_draft_combo, selected_draft
from app.ui.widgets.settings_form import GROUP_TITLES, SettingsForm, group_settings

COLUMNS = ("Name", "Engine", "Architecture", "Parameters", "Quantization", "Size", "Path", "Problems")
PATH_COLUMN = 6
# the defaults form, in groups side by side: (setting group, grid row, grid column)
FORM_GROUPS = (("speculative", 0, 0), ("load", 1, 0), ("sampling", 0, 1), ("prompt", 1, 1))
NO_DEFAULT_DRAFT = "No default draft"
IDENTIFYING = "Identifying compatible draft models..."


class ModelsPage(QWidget):
    useInChat = Signal(str)  # model key
    draftsWanted = Signal(str)  # model key: the window computes the report off-thread
    defaultsChanged = Signal(str)  # model key
    adviceWanted = Signal(str)  # model key: "Find the best draft"
    serverWanted = Signal()  # "Add a server": the window opens the dialog
    serversWanted = Signal()  # "Servers…": the window opens the list (add, remove)

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
        self.add_server_button = QPushButton("Add a server…")
        self.add_server_button.setObjectName("addServerButton")
        self.add_server_button.setToolTip(
            "List the models of another machine: Specula, llama-server, vLLM, SGLang or any "
            "OpenAI-compatible server"
        )
        self.add_server_button.clicked.connect(self.serverWanted.emit)
        self.servers_button = QPushButton("Servers…")
        self.servers_button.setObjectName("serversButton")
        self.servers_button.setToolTip("The servers added: what each answered, remove one")
        self.servers_button.clicked.connect(self.serversWanted.emit)

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
        for group_name, row, column in FORM_GROUPS:
            form = SettingsForm(group_settings(group_name))
            form.valueChanged.connect(self._on_value_changed)
            self.forms.append(form)
            box = QGroupBox(GROUP_TITLES[group_name])
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

        library_box = QWidget()
        library_l = QVBoxLayout(library_box)
        library_l.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.add_server_button)
        top.addWidget(self.servers_button)
        library_l.addLayout(top)
        library_l.addWidget(self.table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(library_box)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([260, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(splitter)
        self._show_defaults()

    def bind(self, state: ModelState) -> None:
        """Follow the model state: the library, and the models that did not load."""

        def show_library(*_args: object) -> None:
            self.set_library(state.library.all_entries, state.library.problems, state.failures)

        state.events.library.connect(show_library)
        state.events.failures.connect(show_library)

    def _show_defaults(self) -> None:
        """Nothing selected: the built-in defaults, greyed out (never a spin box's minimum)."""
        values = model_settings.defaults()
        for form in self.forms:
            form.set_values({k: v for k, v in values.items() if k in form.editors})
        fill_draft_combo(self.draft_combo, NO_DEFAULT_DRAFT)

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
        rows: list[tuple[str | None, list[str]]] = [
            (
                e.key,
                [
                    e.name,
                    f"{e.engine} ({'online' if e.remote.online else 'offline'})" if e.remote else e.engine,
                    e.architecture,
                    e.params_label,
                    e.quantization or "",
                    "" if e.remote and not e.size_bytes else human_size(e.size_bytes),  # a server may not say
                    display_path(e.path),
                    (failures or {}).get(e.key, ""),
                ],
            )
            for e in sorted(entries.values(), key=lambda e: e.key)
        ]
        rows.extend(
            (None, [p.path.rsplit("/", 1)[-1], "", "", "", "", "", p.path, p.reason]) for p in problems
        )
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
            form.set_engine(entry.engine)
        fill_draft_combo(self.draft_combo, IDENTIFYING)
        self.advise_button.setEnabled(not entry.is_remote)
        self.advise_button.setToolTip(
            "It drafts on its server: Find the best draft measures models on this computer"
            if entry.is_remote
            else "Benchmark every compatible draft (and none) on a few prompts"
        )
        self.status.clear()
        self.draftsWanted.emit(key)

    def show_drafts(self, choices: DraftChoices) -> None:
        """The default draft's choices, as the chat's draft list shows them."""
        if choices.main_key != self.selected_key():
            return
        saved = self.defaults.get(choices.main_key).get("draft_model") or ""
        fill_draft_combo(self.draft_combo, NO_DEFAULT_DRAFT, choices, saved)

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
        self._save({"draft_model": selected_draft(self.draft_combo) or None})

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

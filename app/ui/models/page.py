"""My Models: the library as a table (app/ui/models/library_table.py), and the selected model's
defaults, saved on change. The defaults sit in two columns of groups, or one when the page is
narrow: never a sideways scroll bar."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.chat.draft_choices import DraftChoices
from app.chat.model_state import ModelState
from app.core import model_settings
from app.core.errors import SpeculaError
from app.library.entry import ModelEntry, ScanProblem
from app.library.model_defaults import ModelDefaultsStore
from app.library.model_labels import short_label
from app.ui.models.library_table import LibraryTable
from app.ui.theme.colours import LIGHT, Theme
from app.ui.widgets.draft_combo import fill_draft_combo, selected_draft
from app.ui.widgets.settings_form import GROUP_TITLES, SettingsForm, group_settings

# the defaults form, in groups side by side: (setting group, grid row, grid column)
FORM_GROUPS = (("speculative", 0, 0), ("load", 1, 0), ("sampling", 0, 1), ("prompt", 1, 1))
ONE_COLUMN_BELOW = 760  # the defaults' groups stack in one column on a narrower page


NO_DEFAULT_DRAFT = "No default draft"
IDENTIFYING = "Identifying compatible draft models..."


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
        self.table = LibraryTable()
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
        self.draft_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.draft_combo.setMinimumContentsLength(14)  # a long name is elided, not a wider page
        self.draft_combo.currentIndexChanged.connect(self._on_draft_changed)
        self.forms: list[SettingsForm] = []
        self.grid = grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        self.group_boxes: list[tuple[QGroupBox, int, int]] = []
        self._one_column: bool | None = None
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
            self.group_boxes.append((box, row, column))
        self._place_groups(one_column=False)
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
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(editor)
        self.editor_scroll = scroll

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
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
            self.set_library(state.library.entries, state.library.problems, state.failures, state.labels)

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
        self.table.set_theme(theme)

    def set_library(
        self,
        entries: dict[str, ModelEntry],
        problems: list[ScanProblem],
        failures: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """`labels`: key -> a name no other model shares (the model bar's)."""
        selected = self.selected_key()
        self.entries = dict(entries)
        self.table.show_library(entries, problems, failures, labels)
        if selected:
            self.select(selected)

    def showEvent(self, event: QShowEvent) -> None:
        """The chat's sidebar saves load settings too: shown again, the values are read again."""
        super().showEvent(event)
        key = self.selected_key()
        if key is not None:
            values = self.defaults.effective(key)
            for form in self.forms:
                form.set_values({k: v for k, v in values.items() if k in form.editors})

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_groups(one_column=self.width() < ONE_COLUMN_BELOW)

    def _place_groups(self, one_column: bool) -> None:
        """The defaults' groups side by side, or one above the other on a narrow page."""
        if one_column == self._one_column:
            return
        self._one_column = one_column
        for box, _row, _column in self.group_boxes:
            self.grid.removeWidget(box)
        for i, (box, row, column) in enumerate(self.group_boxes):
            if one_column:
                self.grid.addWidget(box, i, 0)
            else:
                self.grid.addWidget(box, row, column)
        self.grid.setColumnStretch(0, 1)
        self.grid.setColumnStretch(1, 0 if one_column else 1)

    def selected_key(self) -> str | None:
        return self.table.selected_key()

    def select(self, key: str) -> None:
        self.table.select(key)

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

"""The config sidebar: Speculative Decoding, the system prompt, sampling and load settings,
one form per group of the setting declarations; the draft dropdown follows the model state."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.chat.draft_choices import DraftChoices
from app.chat.model_state import ModelState
from app.core import model_settings
from app.library.entry import LLAMA_CPP
from app.ui.widgets.draft_combo import fill_draft_combo, selected_draft
from app.ui.widgets.settings_form import GROUP_TITLES, SettingsForm, group_settings

SELECT_DRAFT = "Select a compatible draft model"
IDENTIFYING = "Identifying compatible draft models..."
NONE_FOUND = "No compatible draft models found for your current model selection"
NO_MODEL = "Load a model to choose a draft"
GROUPS = ("speculative", "prompt", "sampling", "load")  # top to bottom


class ConfigSidebar(QScrollArea):
    draftSelected = Signal(str)  # model key, "" for none: the user chose a draft
    visualizeToggled = Signal(bool)
    rejectedToggled = Signal(bool)
    loadValuesEdited = Signal(dict)  # the Load group's values, after the user changed one

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to its fields, not the scroll area
        body = QWidget()
        layout = QVBoxLayout(body)
        self.forms = {group: SettingsForm(group_settings(group)) for group in GROUPS}
        self.draft_form = self.forms["speculative"]

        spec = QWidget()
        spec_layout = QVBoxLayout(spec)
        spec_layout.setContentsMargins(0, 0, 0, 0)
        self.draft_combo = QComboBox()
        self.draft_combo.setObjectName("draftCombo")
        self.draft_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.draft_combo.setMinimumContentsLength(18)
        self.why_button = QPushButton("Why not others?")
        self.why_button.setToolTip("Show why other models cannot draft for this one")
        self.why_button.clicked.connect(self._on_why_clicked)
        spec_layout.addWidget(self.draft_combo)
        spec_layout.addWidget(self.why_button)
        spec_layout.addWidget(self.draft_form)
        self.visualize_box = QCheckBox("Visualize accepted draft tokens")
        self.visualize_box.setChecked(True)
        self.visualize_box.setToolTip("Colour the draft tokens the main model accepted")
        self.visualize_box.toggled.connect(self.visualizeToggled)
        spec_layout.addWidget(self.visualize_box)
        self.rejected_box = QCheckBox("Show rejected draft tokens")
        self.rejected_box.setToolTip(
            "Show, struck through, what the draft proposed where the main model disagreed"
        )
        self.rejected_box.toggled.connect(self.rejectedToggled)
        spec_layout.addWidget(self.rejected_box)
        load = QWidget()
        load_layout = QVBoxLayout(load)
        load_layout.setContentsMargins(0, 0, 0, 0)
        load_layout.addWidget(self.forms["load"])
        applied = QLabel("The loaded model's own (as in My Models), applied when it loads.")
        applied.setObjectName("muted")
        applied.setWordWrap(True)
        load_layout.addWidget(applied)
        self.reload_hint = QLabel()
        self.reload_hint.setObjectName("reloadHint")
        self.reload_hint.setWordWrap(True)
        self.reload_button = QPushButton("Reload the model now")
        self.reload_button.setToolTip("Load the model again with these settings (the draft stays)")
        load_layout.addWidget(self.reload_hint)
        load_layout.addWidget(self.reload_button)
        self.forms["load"].valueChanged.connect(self._on_load_value_changed)
        content = {"speculative": spec, "load": load}
        for group in GROUPS:
            layout.addWidget(self._group(GROUP_TITLES[group], content.get(group) or self.forms[group]))
        layout.addStretch(1)
        self.setWidget(body)

        self.draft_combo.currentIndexChanged.connect(self._on_draft_index_changed)
        self._choices: DraftChoices | None = None
        self.set_values(model_settings.defaults())  # what a model starts with, until one loads
        self.set_engine(LLAMA_CPP)
        self.show_drafts(None, loaded=False)
        self.show_reload_hint("")
        self.forms["load"].setEnabled(False)  # until a model is loaded

    def minimumSizeHint(self) -> QSize:
        """Never narrower than what it holds, in the style it is drawn in: with no horizontal
        scroll bar, anything wider would be cut at the window's edge."""
        hint = super().minimumSizeHint()
        body = self.widget()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        need = body.minimumSizeHint().width() + bar + 2 * self.frameWidth() if body is not None else 0
        return QSize(max(280, need), hint.height())

    @staticmethod
    def _group(title: str, content: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        lay = QVBoxLayout(box)
        lay.addWidget(content)
        return box

    def bind(self, state: ModelState) -> None:
        """Follow the model state: its settings, its drafts and the draft chosen."""
        e = state.events
        e.settings.connect(self.set_values)
        e.drafts.connect(lambda choices: self._on_drafts(state, choices))
        e.chosen_draft.connect(self.select_draft)
        e.reload_hint.connect(self.show_reload_hint)
        self.draftSelected.connect(state.choose_draft)
        self.loadValuesEdited.connect(state.set_load_values)
        self.reload_button.clicked.connect(state.reload)

    def _on_load_value_changed(self, _name: str, _value: object) -> None:
        self.loadValuesEdited.emit(self.forms["load"].values())

    def show_reload_hint(self, text: str) -> None:
        self.reload_hint.setText(text)
        self.reload_hint.setVisible(bool(text))
        self.reload_button.setVisible(bool(text))

    # --- values --------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for form in self.forms.values():
            out.update(form.values())
        out["draft_model"] = self.selected_draft() or None
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for form in self.forms.values():
            form.set_values({k: v for k, v in values.items() if k in form.editors})

    def set_engine(self, engine: str) -> None:
        self.engine = engine
        for form in self.forms.values():
            form.set_engine(engine)

    # --- the draft dropdown ----------------------------------------------------------------------
    def selected_draft(self) -> str:
        return selected_draft(self.draft_combo)

    def _on_drafts(self, state: ModelState, choices: DraftChoices | None) -> None:
        self.set_engine(state.engine)
        self.forms["load"].setEnabled(bool(state.loaded_key))  # the loaded model's own: none, none
        self.show_drafts(choices, loaded=bool(state.loaded_key), select=state.chosen_draft)

    def show_drafts(self, choices: DraftChoices | None, loaded: bool = True, select: str = "") -> None:
        """The compatible drafts by names that tell them apart (the path on hover); ★ where
        the size guide recommends one, ⚠ on one that cannot be faster. Without choices: no
        model yet, or its drafts are still being identified (never 'none found' before)."""
        self._choices = choices
        if choices is None:
            first = IDENTIFYING if loaded else NO_MODEL
        else:
            first = SELECT_DRAFT if choices.found else NONE_FOUND
        fill_draft_combo(self.draft_combo, first, choices, select)
        self.why_button.setEnabled(bool(choices and choices.incompatible()))
        self.draft_form.setEnabled(bool(self.selected_draft()))

    def select_draft(self, key: str) -> None:
        index = self.draft_combo.findData(key) if key else 0
        if index >= 0:
            self.draft_combo.setCurrentIndex(index)

    def incompatible_reasons(self) -> list[tuple[str, str]]:
        return self._choices.incompatible() if self._choices else []

    def _on_draft_index_changed(self, _index: int) -> None:
        self.draft_form.setEnabled(bool(self.selected_draft()))
        self.draftSelected.emit(self.selected_draft())

    def _on_why_clicked(self) -> None:
        reasons = self.incompatible_reasons()
        text = "\n".join(f"• {key}: {reason}" for key, reason in reasons) or "Every model is compatible."
        box = QMessageBox(QMessageBox.Icon.Information, "Why these models cannot draft", text, parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

"""The config sidebar: system prompt, sampling, Speculative Decoding, and load settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core import model_settings
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.compat_index import DraftReport
from app.library.model_labels import base_label, translated
from app.ui.widgets.settings_form import SettingsForm

SELECT_DRAFT = "Select a compatible draft model"
IDENTIFYING = "Identifying compatible draft models..."
NONE_FOUND = "No compatible draft models found for your current model selection"
NO_MODEL = "Load a model to choose a draft"
LLAMA_DRAFT_SETTINGS = ("draft_auto", "draft_p_min", "draft_min", "draft_max")
MLX_DRAFT_SETTINGS = ("mlx_draft_tokens",)


class ConfigSidebar(QScrollArea):
    settingChanged = Signal(str, object)
    draftSelected = Signal(str)  # model key, "" for none
    visualizeToggled = Signal(bool)
    rejectedToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setMinimumWidth(280)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to its fields, not the scroll area
        body = QWidget()
        layout = QVBoxLayout(body)
        self.prompt_form = SettingsForm(["system_prompt"])
        self.sampling_form = SettingsForm(
            ["temperature", "top_k", "top_p", "min_p", "repeat_penalty", "max_tokens"]
        )
        self.draft_form = SettingsForm([*LLAMA_DRAFT_SETTINGS, *MLX_DRAFT_SETTINGS])
        self.load_form = SettingsForm(["context_length", "gpu_offload"])
        self.forms = (self.prompt_form, self.sampling_form, self.draft_form, self.load_form)

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
        layout.addWidget(self._group("Speculative Decoding", spec))
        layout.addWidget(self._group("System Prompt", self.prompt_form))
        layout.addWidget(self._group("Sampling", self.sampling_form))
        layout.addWidget(self._group("Load (applied when a model loads)", self.load_form))
        layout.addStretch(1)
        self.setWidget(body)

        for form in self.forms:
            form.valueChanged.connect(self.settingChanged)
        self.draft_combo.currentIndexChanged.connect(self._on_draft_index_changed)
        self._report: DraftReport | None = None
        self._filling = False
        self.set_values(model_settings.defaults())  # what a model starts with, until one loads
        self.set_engine("llama.cpp")
        self.set_no_model()

    @staticmethod
    def _group(title: str, content: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        lay = QVBoxLayout(box)
        lay.addWidget(content)
        return box

    # --- values --------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for form in self.forms:
            out.update(form.values())
        out["draft_model"] = self.selected_draft() or None
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        for form in self.forms:
            form.set_values({k: v for k, v in values.items() if k in form.editors})

    def set_engine(self, engine: str) -> None:
        self.engine = engine
        mlx = engine == "MLX"
        for name in LLAMA_DRAFT_SETTINGS:
            self.draft_form.set_row_visible(name, not mlx)
        for name in MLX_DRAFT_SETTINGS:
            self.draft_form.set_row_visible(name, mlx)

    # --- the draft dropdown ----------------------------------------------------------------------
    def selected_draft(self) -> str:
        data = self.draft_combo.currentData()
        return str(data) if data else ""

    def _fill(
        self,
        items: list[tuple[str, str]],
        enabled: bool,
        select: str = "",
        tooltips: Mapping[str, str] | None = None,
    ) -> None:
        self._filling = True
        try:
            self.draft_combo.clear()
            for text, key in items:
                self.draft_combo.addItem(text, key)
                if tooltips and key in tooltips:
                    self.draft_combo.setItemData(
                        self.draft_combo.count() - 1, tooltips[key], Qt.ItemDataRole.ToolTipRole
                    )
            index = max(0, self.draft_combo.findData(select)) if select else 0
            self.draft_combo.setCurrentIndex(index)
            self.draft_combo.setEnabled(enabled)
        finally:
            self._filling = False
        self.draft_form.setEnabled(bool(self.selected_draft()))

    def set_no_model(self) -> None:
        self._report = None
        self._fill([(NO_MODEL, "")], enabled=False)
        self.why_button.setEnabled(False)

    def set_identifying(self) -> None:
        """While indexing runs: never 'none found' before it ends."""
        self._report = None
        self._fill([(IDENTIFYING, "")], enabled=False)
        self.why_button.setEnabled(False)

    def set_report(
        self,
        report: DraftReport,
        select: str = "",
        labels: Mapping[str, str] | None = None,
        warnings: Mapping[str, str] | None = None,
        tooltips: Mapping[str, str] | None = None,
    ) -> None:
        """The compatible drafts by names that tell them apart (the path on hover); ★ where
        the size guide recommends one, ⚠ on one that cannot be faster (as large as the main
        model, or measured no faster by the advisor)."""
        self._report = report
        self.why_button.setEnabled(bool(report.incompatible))
        labels, warnings = labels or {}, warnings or {}
        tips = dict(tooltips or {})
        lookup = PROMPT_LOOKUP_NAME
        if PROMPT_LOOKUP_KEY in warnings:
            lookup = f"⚠ {lookup}"
            tips[PROMPT_LOOKUP_KEY] = f"⚠ {warnings[PROMPT_LOOKUP_KEY]}"
        if not report.compatible:
            self._fill(
                [(NONE_FOUND, ""), (lookup, PROMPT_LOOKUP_KEY)], enabled=True, select=select, tooltips=tips
            )
            return
        items = [(SELECT_DRAFT, ""), (lookup, PROMPT_LOOKUP_KEY)]
        for option in report.compatible:
            e = option.entry
            label = labels.get(e.key) or base_label(e)
            mark = "⚠ " if e.key in warnings else ("★ " if option.recommended else "")
            items.append((f"{mark}{translated(label, option.translated)}", e.key))
        self._fill(items, enabled=True, select=select, tooltips=tips)

    def select_draft(self, key: str) -> None:
        index = self.draft_combo.findData(key) if key else 0
        if index >= 0:
            self.draft_combo.setCurrentIndex(index)

    def incompatible_reasons(self) -> list[tuple[str, str]]:
        return [(e.key, r) for e, r in self._report.incompatible] if self._report else []

    def _on_draft_index_changed(self, _index: int) -> None:
        self.draft_form.setEnabled(bool(self.selected_draft()))
        if not self._filling:
            self.draftSelected.emit(self.selected_draft())

    def _on_why_clicked(self) -> None:
        reasons = self.incompatible_reasons()
        text = "\n".join(f"• {key}: {reason}" for key, reason in reasons) or "Every model is compatible."
        box = QMessageBox(QMessageBox.Icon.Information, "Why these models cannot draft", text, parent=self)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()

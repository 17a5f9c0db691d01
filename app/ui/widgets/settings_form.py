"""Editors derived from the per-model setting declarations (app/core/model_settings.py).

The config sidebar and the My Models page build their forms from the same table, one form per
group, each row shown for the engines it applies to: a new setting appears in both without UI
code of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.core.model_settings import MODEL_SETTINGS, SPECS, SettingSpec

GROUP_TITLES = {
    "speculative": "Speculative Decoding",
    "prompt": "System Prompt",
    "sampling": "Sampling",
    "load": "Context and GPU",  # applied when a model loads: the forms say so under the fields
}


def group_settings(group: str) -> list[str]:
    """The settings of a group that its form edits, in declaration order."""
    return [s.name for s in MODEL_SETTINGS if s.group == group and s.in_forms]


def _editor(spec: SettingSpec) -> QWidget:
    if spec.kind is bool:
        return QCheckBox()
    if spec.kind is int:
        box = QSpinBox()
        box.setRange(
            int(spec.minimum if spec.minimum is not None else -(2**31)),
            int(spec.maximum if spec.maximum is not None else 2**31 - 1),
        )
        return box
    if spec.kind is float:
        dbox = QDoubleSpinBox()
        dbox.setDecimals(2)
        dbox.setSingleStep(0.05)
        dbox.setRange(float(spec.minimum or 0.0), float(spec.maximum if spec.maximum is not None else 1e9))
        return dbox
    if spec.name == "system_prompt":
        text = QPlainTextEdit()
        text.setPlaceholderText("Instructions for the model")
        text.setFixedHeight(70)
        return text
    return QLineEdit()


class SettingsForm(QWidget):
    """A form over some settings; `valueChanged(name, value)` fires on every user edit."""

    valueChanged = Signal(str, object)

    def __init__(self, names: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.editors: dict[str, QWidget] = {}
        self._loading = False
        for name in names:
            spec = SPECS[name]
            editor = _editor(spec)
            editor.setObjectName(f"setting_{name}")
            editor.setToolTip(spec.description)
            self.editors[name] = editor
            self.layout_.addRow(spec.title, editor)
            self._connect(name, editor)

    def _connect(self, name: str, editor: QWidget) -> None:
        def changed(*_args: Any) -> None:
            if not self._loading:
                self.valueChanged.emit(name, self.value(name))

        if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
            editor.valueChanged.connect(changed)
        elif isinstance(editor, QCheckBox):
            editor.toggled.connect(changed)
        elif isinstance(editor, QPlainTextEdit):
            editor.textChanged.connect(changed)
        elif isinstance(editor, QLineEdit):
            editor.textEdited.connect(changed)

    def value(self, name: str) -> Any:
        editor = self.editors[name]
        if isinstance(editor, QDoubleSpinBox):
            return round(editor.value(), 4)
        if isinstance(editor, QSpinBox):
            return editor.value()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QPlainTextEdit):
            return editor.toPlainText()
        assert isinstance(editor, QLineEdit)
        return editor.text()

    def values(self) -> dict[str, Any]:
        return {name: self.value(name) for name in self.editors}

    def set_values(self, values: dict[str, Any]) -> None:
        """Show values without emitting valueChanged."""
        self._loading = True
        try:
            for name, value in values.items():
                editor = self.editors.get(name)
                if editor is None or value is None:
                    continue
                if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                    editor.setValue(value)
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QPlainTextEdit):
                    if editor.toPlainText() != value:
                        editor.setPlainText(str(value))
                elif isinstance(editor, QLineEdit):
                    editor.setText(str(value))
        finally:
            self._loading = False

    def set_engine(self, engine: str) -> None:
        """Only the rows that apply to `engine` show."""
        for name, editor in self.editors.items():
            self.layout_.setRowVisible(editor, SPECS[name].applies_to(engine))

    def row_visible(self, name: str) -> bool:
        return self.layout_.isRowVisible(self.editors[name])

"""The model bar at the top of the window: the picker (choosing a model loads it), Eject, the
load's progress and the status line; all of it follows the model state."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.chat.model_state import NO_MODEL, ModelState
from app.ui.models.picker import ModelPicker
from app.ui.theme.colours import Theme
from app.ui.theme.icons import icon


class ModelBar(QWidget):
    stopRequested = Signal()  # Stop, offered while an Eject waits for the reply to end

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.picker = ModelPicker()
        self.picker.setMinimumWidth(360)
        self.picker.setMaximumWidth(620)
        self.eject_button = QPushButton("Eject")
        self.eject_button.setToolTip("Unload the model and its draft")
        self.eject_button.setEnabled(False)
        self.stop_button = QPushButton("Stop the reply")
        self.stop_button.setObjectName("ejectStop")
        self.stop_button.setToolTip("Stop the reply now (Esc): what it wrote is kept, and the model unloads")
        self.stop_button.clicked.connect(self.stopRequested)
        self.stop_button.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setRange(0, 100)
        self.progress.hide()
        self.status = QLabel(NO_MODEL)
        self.status.setObjectName("modelStatus")
        self.status.setWordWrap(True)
        layout.addStretch(1)
        layout.addWidget(self.picker, 3)
        layout.addWidget(self.eject_button)
        layout.addWidget(self.stop_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 2)
        self._state: ModelState | None = None

    def bind(self, state: ModelState) -> None:
        self._state = state
        self.picker.modelChosen.connect(state.load_key)
        e = state.events
        e.status.connect(self._on_status)
        e.loading.connect(self._on_loading)
        e.progress.connect(self._on_progress)
        e.pair.connect(self._on_pair)
        e.library.connect(self._on_library)
        e.eject_pending.connect(self._on_eject_pending)

    def set_theme(self, theme: Theme) -> None:
        self.picker.set_theme(theme)
        self.eject_button.setIcon(icon("eject", theme.text, theme.muted))

    def show_progress(self, fraction: float) -> None:
        self.progress.setValue(int(fraction * 100))

    def _on_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _on_loading(self, key: str) -> None:
        self.picker.setEnabled(not key)
        self.progress.setVisible(bool(key))
        if key:
            self.picker.select(key)

    def _on_progress(self, fraction: float) -> None:
        self.show_progress(fraction)

    def _on_pair(self, main: str, draft: str) -> None:
        state = self._state
        assert state is not None
        self.picker.set_loaded(main, draft)
        if not state.loading_key:
            self.picker.select(main)
        self.eject_button.setEnabled(bool(main))

    def _on_eject_pending(self, pending: bool) -> None:
        self.stop_button.setVisible(pending)
        self.eject_button.setEnabled(not pending)

    def _on_library(self) -> None:
        state = self._state
        assert state is not None
        self.picker.set_entries(state.library.entries.values(), state.loading_key or state.loaded_key)

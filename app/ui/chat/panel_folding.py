"""Side panels that fold away as the page narrows (each below its own width) and come back as it
grows, unless the user closed them; their toggles stay the user's to open or close."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QWidget


class PanelFolding:
    def __init__(self, panels: list[tuple[QWidget, QAbstractButton, int]]) -> None:
        """(panel, its toggle, the page width under which it folds), the first folding first."""
        self.panels = panels
        self._folded: set[str] = set()  # folded by the width, reopened when it grows
        self._last_width = 0
        for panel, toggle, _limit in panels:
            toggle.toggled.connect(lambda on, p=panel: self._show(p, on))

    def _show(self, panel: QWidget, on: bool) -> None:
        panel.setVisible(on)
        self._folded.discard(panel.objectName())

    def resized(self, width: int) -> None:
        for panel, toggle, limit in self.panels:
            name = panel.objectName()
            if width < limit <= self._last_width or (width < limit and not self._last_width):
                if toggle.isChecked():
                    toggle.setChecked(False)
                    self._folded.add(name)
            elif width >= limit > self._last_width and name in self._folded:
                toggle.setChecked(True)
        self._last_width = width

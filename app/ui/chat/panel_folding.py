"""Side panels that fold away as the page narrows (each below its own width) and come back as it
grows, unless the user closed them; their toggles stay the user's to open or close. A panel the
user opens where it does not fit beside the others folds those others (they come back as the
page grows): the window's size is the user's, and opening a panel never widens it."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractButton, QWidget


class PanelFolding:
    def __init__(self, panels: list[tuple[QWidget, QAbstractButton, int]]) -> None:
        """(panel, its toggle, the page width under which it folds), the first folding first."""
        self.panels = panels
        self._folded: set[str] = set()  # folded by the width, reopened when it grows
        self._last_width = 0
        self._resizing = False
        for panel, toggle, _limit in panels:
            toggle.toggled.connect(lambda on, p=panel: self._show(p, on))

    def _show(self, panel: QWidget, on: bool) -> None:
        panel.setVisible(on)
        self._folded.discard(panel.objectName())
        if on and not self._resizing and self._last_width:
            self._make_room(panel)

    def _make_room(self, opened: QWidget) -> None:
        """The user opened `opened`: fold the other open panels when all of them would not fit."""
        width = self._last_width
        open_ = [(p, t, limit) for p, t, limit in self.panels if t.isChecked()]
        if width >= max(limit for _p, _t, limit in open_):
            return
        for panel, toggle, _limit in open_:
            if panel is not opened:
                toggle.setChecked(False)
                self._folded.add(panel.objectName())

    def resized(self, width: int) -> None:
        last = self._last_width
        self._resizing = True
        try:
            for panel, toggle, limit in self.panels:
                if width < limit and (limit <= last or not last) and toggle.isChecked():
                    toggle.setChecked(False)
                    self._folded.add(panel.objectName())
            if width > last:  # growing: what was folded comes back once it fits beside the others
                for panel, toggle, limit in reversed(self.panels):
                    if panel.objectName() not in self._folded:
                        continue
                    others = [lim for p, t, lim in self.panels if p is not panel and t.isChecked()]
                    if width >= max([limit, *others]):
                        toggle.setChecked(True)
        finally:
            self._resizing = False
        self._last_width = width

"""The one filler of a draft dropdown: the chat sidebar's and My Models' default draft list the
same choices (app/chat/draft_choices.py), under their own first item."""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QComboBox

from app.chat.draft_choices import DraftChoices


def fill_draft_combo(
    combo: QComboBox, first: str, choices: DraftChoices | None = None, select: str = ""
) -> None:
    """`first`: the item for no draft (or what the list is waiting for); `choices`: None while
    there are none to offer (the list is then disabled). Filling emits no signal."""
    blocker = QSignalBlocker(combo)
    combo.clear()
    combo.addItem(first, "")
    for c in choices.choices if choices is not None else ():
        combo.addItem(c.text, c.key)
        if c.tooltip:
            combo.setItemData(combo.count() - 1, c.tooltip, Qt.ItemDataRole.ToolTipRole)
    combo.setCurrentIndex(max(0, combo.findData(select)) if select else 0)
    combo.setEnabled(choices is not None)
    blocker.unblock()


def selected_draft(combo: QComboBox) -> str:
    data = combo.currentData()
    return str(data) if data else ""

"""One filler for both draft dropdowns: the chat sidebar and My Models list the same drafts, with
the same marks and tooltips, under their own first item; filling never counts as a choice."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.chat.draft_choices import draft_choices
from app.library.model_defaults import ModelDefaultsStore
from app.ui.chat.sidebar import ConfigSidebar
from app.ui.models.page import NO_DEFAULT_DRAFT, ModelsPage
from tests.chat.test_draft_choices import report


def items(combo) -> list[tuple[str, str, str]]:
    return [
        (combo.itemText(i), combo.itemData(i), str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or ""))
        for i in range(combo.count())
    ]


def test_the_sidebar_and_my_models_list_the_same_drafts(qtbot):
    r = report()
    choices = draft_choices(r)
    sidebar = ConfigSidebar()
    page = ModelsPage(ModelDefaultsStore())
    qtbot.addWidget(sidebar)
    qtbot.addWidget(page)
    chosen: list[str] = []
    sidebar.draftSelected.connect(chosen.append)
    sidebar.show_drafts(choices, select="small")
    assert sidebar.selected_draft() == "small"
    assert chosen == []
    page.set_library({r.main.key: r.main}, [])
    page.select(r.main.key)
    page.show_drafts(choices)
    assert items(sidebar.draft_combo)[1:] == items(page.draft_combo)[1:]
    assert page.draft_combo.itemText(0) == NO_DEFAULT_DRAFT
    assert page.draft_combo.isEnabled()
    sidebar.select_draft("huge")
    assert chosen == ["huge"]

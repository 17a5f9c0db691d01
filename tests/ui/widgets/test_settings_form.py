"""The sidebar and My Models build their forms from the setting declarations: every setting a
form edits appears once in each, in its group, its row shown only for the engines it applies to."""

from __future__ import annotations

from app.core.model_settings import MODEL_SETTINGS
from app.library.model_defaults import ModelDefaultsStore
from app.ui.chat.sidebar import ConfigSidebar
from app.ui.models.page import ModelsPage
from tests.chat.test_draft_choices import entry


def editors(forms) -> list[str]:
    return [name for form in forms for name in form.editors]


def test_both_views_edit_every_declared_setting_once_in_its_group(qtbot):
    sidebar = ConfigSidebar()
    page = ModelsPage(ModelDefaultsStore())
    qtbot.addWidget(sidebar)
    qtbot.addWidget(page)
    declared = sorted(s.name for s in MODEL_SETTINGS if s.in_forms)
    assert "draft_model" not in declared  # chosen in its own dropdown
    assert sorted(editors(sidebar.forms.values())) == declared
    assert sorted(editors(page.forms)) == declared
    for group, form in sidebar.forms.items():
        assert all(s.group == group for s in MODEL_SETTINGS if s.name in form.editors)


def test_rows_show_for_the_engines_they_apply_to(qtbot):
    sidebar = ConfigSidebar()
    page = ModelsPage(ModelDefaultsStore())
    qtbot.addWidget(sidebar)
    qtbot.addWidget(page)
    mlx = entry("mlx-community/tiny", 2**20)
    mlx.engine = "MLX"
    page.set_library({mlx.key: mlx}, [])
    page.select(mlx.key)
    sidebar.set_engine("MLX")
    for forms in (list(sidebar.forms.values()), page.forms):
        shown = {n for f in forms for n in f.editors if f.row_visible(n)}
        assert "mlx_draft_tokens" in shown
        assert not shown & {"draft_auto", "draft_p_min", "draft_max"}
    sidebar.set_engine("llama.cpp")
    shown = {n for f in sidebar.forms.values() for n in f.editors if f.row_visible(n)}
    assert "mlx_draft_tokens" not in shown
    assert {"draft_auto", "draft_p_min", "temperature"} <= shown


def test_a_setting_of_a_few_values_is_a_dropdown_by_their_names(qtbot):
    from PySide6.QtWidgets import QComboBox

    from app.ui.widgets.settings_form import SettingsForm

    form = SettingsForm(["context_overflow", "max_tokens"])
    qtbot.addWidget(form)
    combo = form.editors["context_overflow"]
    assert isinstance(combo, QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "Truncate Middle",
        "Rolling Window",
        "Stop at Limit",
    ]
    edited: list[tuple[str, object]] = []
    form.valueChanged.connect(lambda name, value: edited.append((name, value)))
    form.set_values({"context_overflow": "stop-at-limit"})
    assert form.value("context_overflow") == "stop-at-limit"
    assert edited == []  # shown, not edited
    combo.setCurrentIndex(1)  # the user picks Rolling Window
    combo.activated.emit(1)
    assert edited == [("context_overflow", "rolling-window")]

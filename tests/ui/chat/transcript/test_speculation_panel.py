"""The speculation details' charts are tall enough to read: at their smallest, in the app's
stylesheet, the plot keeps its height (shorter, Qt elides the axis labels to "...")."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from app.chat.reply_stats import ReplyStats
from app.core.events import GenerationStats
from app.ui.chat.transcript.speculation_panel import SpeculationPanel
from app.ui.theme.colours import LIGHT
from app.ui.theme.theming import stylesheet_for


@pytest.fixture
def panel(qtbot):
    stats = GenerationStats(
        predicted_tokens_count=220,
        draft_model="draft.gguf",
        total_draft_tokens_count=246,
        accepted_draft_tokens_count=188,
        rejected_draft_tokens_count=58,
        verify_steps=31,
        rounds=[[8, 6]] * 31,
    )
    p = SpeculationPanel(ReplyStats(stats), LIGHT)
    p.setStyleSheet(stylesheet_for(LIGHT))  # the app's fonts and paddings
    qtbot.addWidget(p)
    p.resize(520, p.minimumSizeHint().height())
    p.show()
    qtbot.waitExposed(p)
    for _ in range(3):
        QApplication.processEvents()
    return p


def test_each_chart_keeps_a_readable_plot_at_its_smallest(panel):
    assert len(panel.charts) == 2
    for view in panel.charts:
        view.resize(view.width(), view.minimumHeight())
        QApplication.processEvents()
        assert view.chart().plotArea().height() >= 100, "the axes' labels are squeezed to '...'"

"""The per-reply details of speculation: the figures, a chart of every round (accepted and
rejected draft tokens) and acceptance by draft position, in the theme's colours."""

from __future__ import annotations

from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import detail_rows
from app.ui.theme.colours import Theme

MAX_BARS = 120  # more rounds than this are summed in groups


def grouped_rounds(rounds: list[list[int]], max_bars: int = MAX_BARS) -> tuple[list[list[int]], int]:
    """[drafted, accepted] per bar and how many rounds each bar sums."""
    if len(rounds) <= max_bars:
        return rounds, 1
    step = -(-len(rounds) // max_bars)
    out = [
        [sum(r[0] for r in rounds[i : i + step]), sum(r[1] for r in rounds[i : i + step])]
        for i in range(0, len(rounds), step)
    ]
    return out, step


def _style_chart(chart: QChart, theme: Theme, title: str) -> None:
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    chart.setBackgroundBrush(QColor(theme.surface))
    chart.setBackgroundRoundness(0)
    chart.setMargins(QMargins(4, 4, 4, 4))
    chart.setTitle(title)
    chart.setTitleBrush(QColor(theme.text))
    font = QFont(chart.titleFont())
    font.setBold(True)
    chart.setTitleFont(font)
    legend = chart.legend()
    legend.setLabelColor(QColor(theme.text))
    legend.setAlignment(Qt.AlignmentFlag.AlignBottom)


def _style_axis(axis: Any, theme: Theme, title: str) -> None:
    axis.setLabelsColor(QColor(theme.muted))
    axis.setTitleText(title)
    axis.setTitleBrush(QColor(theme.muted))
    axis.setGridLineColor(QColor(theme.border))
    axis.setLinePenColor(QColor(theme.border))
    font = QFont(axis.titleFont())
    font.setBold(False)
    axis.setTitleFont(font)


def _nice_interval(n: int, ticks: int = 8) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100):
        if n / step <= ticks:
            return step
    return -(-n // ticks)


def rounds_chart(rounds: list[list[int]], theme: Theme) -> QChart:
    bars, step = grouped_rounds(rounds)
    accepted = QBarSet("Accepted")
    rejected = QBarSet("Rejected")
    accepted.append(0)  # bar 0 is empty, so bar i stands at i on the axis: rounds count from 1
    rejected.append(0)
    for drafted, acc in bars:
        accepted.append(acc)
        rejected.append(max(0, drafted - acc))
    for s, colour in ((accepted, theme.chart_accepted), (rejected, theme.chart_rejected)):
        s.setColor(QColor(colour))
        s.setBorderColor(QColor(colour))
        s.setPen(QPen(Qt.PenStyle.NoPen))
    series = QStackedBarSeries()
    series.setBarWidth(0.85)
    series.append(accepted)
    series.append(rejected)
    chart = QChart()
    _style_chart(chart, theme, "Draft tokens per round")
    chart.addSeries(series)
    x = QValueAxis()
    x.setRange(0.5, len(bars) + 0.5)
    x.setLabelFormat("%d")
    x.setTickType(QValueAxis.TickType.TicksDynamic)
    x.setTickAnchor(1)
    x.setTickInterval(_nice_interval(len(bars)))
    _style_axis(x, theme, "Round" if step == 1 else f"Groups of {step} rounds")
    x.setGridLineVisible(False)
    y = QValueAxis()
    top = max((d for d, _ in bars), default=1) or 1
    y.setRange(0, top)
    y.setTickType(QValueAxis.TickType.TicksDynamic)
    y.setTickAnchor(0)
    y.setTickInterval(_nice_interval(top, 4))
    y.setLabelFormat("%d")
    _style_axis(y, theme, "Tokens")
    chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x)
    series.attachAxis(y)
    return chart


def position_chart(rates: list[float], theme: Theme) -> QChart:
    bars = QBarSet("Accepted at this position")
    bars.append([100 * r for r in rates])
    bars.setColor(QColor(theme.chart_accepted))
    bars.setPen(QPen(Qt.PenStyle.NoPen))
    series = QBarSeries()
    series.append(bars)
    chart = QChart()
    _style_chart(chart, theme, "Acceptance by draft position")
    chart.addSeries(series)
    x = QBarCategoryAxis()
    x.append([str(i + 1) for i in range(len(rates))])
    _style_axis(x, theme, "Position in the draft")
    x.setGridLineVisible(False)
    y = QValueAxis()
    y.setRange(0, 100)
    y.setTickCount(5)
    y.setLabelFormat("%d%%")
    _style_axis(y, theme, "Accepted")
    chart.addAxis(x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(x)
    series.attachAxis(y)
    return chart


def _view(chart: QChart, theme: Theme) -> QChartView:
    view = QChartView(chart)
    view.setBackgroundBrush(QColor(theme.surface))
    view.setStyleSheet(f"background: {theme.surface}; border: none;")
    view.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.setMinimumHeight(260)  # room for the axes' labels and titles: shorter, Qt elides them to "..."
    view.setFrameShape(QFrame.Shape.NoFrame)
    return view


class SpeculationPanel(QFrame):
    """Built when first opened; rebuilt for a new theme."""

    def __init__(self, stats: ReplyStats, theme: Theme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("speculationPanel")
        self.stats = stats
        self.charts: list[QChartView] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(2)
        for row, (label, value) in enumerate(detail_rows(self.stats)):
            name = QLabel(label)
            name.setObjectName("detailLabel")
            text = QLabel(value)
            text.setObjectName("detailValue")
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(text, row, 1)
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        rounds = [list(r) for r in stats.generation.rounds]
        if any(d for d, _ in rounds):
            row_l = QHBoxLayout()
            self.charts.append(_view(rounds_chart(rounds, theme), theme))
            rates = stats.generation.acceptance_by_position()
            if rates:
                self.charts.append(_view(position_chart(rates, theme), theme))
            for view in self.charts:
                row_l.addWidget(view, 1)
            layout.addLayout(row_l)
        elif stats.with_draft:
            none = QLabel("The draft proposed nothing in this reply.")
            none.setObjectName("detailValue")
            layout.addWidget(none)

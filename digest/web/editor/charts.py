"""The report page's charts, drawn on the server as inline SVG: no script, no charting library.

Here is only their geometry, from a report's figures (engagement/report.py); the template
(web/editor/_charts.html.j2) writes the elements with presentation attributes, and their colours
come from classes in editor.css (the Content-Security-Policy forbids inline styles).

A bar chart is as wide as its box whatever the screen: its bars' widths are percentages, and each
label is text of a fixed size above its bar. A line chart is drawn in a fixed coordinate box that
the browser stretches to the page's width (`preserveAspectRatio="none"`, strokes that do not
stretch); its labels are HTML around it, so they stay readable on a phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.engagement.report import Trend

ROW = 34  # px per bar: its label, then the bar
LABEL_CHARS = 70  # a longer label is shortened (the table below the chart has it whole)
MAX_BARS = 20
LINES = 6  # the most lines drawn; the rest are summed as one
SERIES = 7  # colour classes series-0 … series-6 in editor.css
WIDTH, HEIGHT = 600, 200  # a line chart's coordinate box


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int  # what the solid bar counts (readers' clicks)
    other: int  # what the pale bar after it counts (scanners' clicks)
    y: int  # top of its row
    width: float  # of the solid bar, percent of the chart's width
    other_width: float


@dataclass(frozen=True, slots=True)
class BarChart:
    bars: tuple[Bar, ...]
    height: int
    hidden: int  # rows beyond MAX_BARS, not drawn


def bar_chart(rows: Sequence[tuple[str, int, int]]) -> BarChart:
    """Bars for (label, value, other) rows in their order, scaled to the largest sum."""
    shown = rows[:MAX_BARS]
    largest = max((value + other for _, value, other in shown), default=0) or 1
    bars = tuple(
        Bar(
            label=_shorten(label),
            value=value,
            other=other,
            y=index * ROW,
            width=round(100 * value / largest, 2),
            other_width=round(100 * other / largest, 2),
        )
        for index, (label, value, other) in enumerate(shown)
    )
    return BarChart(bars=bars, height=max(1, len(bars)) * ROW, hidden=len(rows) - len(shown))


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    points: str  # an SVG polyline's points in the chart's box
    series: int  # its colour class
    total: int


@dataclass(frozen=True, slots=True)
class LineChart:
    title: str
    lines: tuple[Line, ...]
    weeks: tuple[str, ...]
    top: int  # the value at the top of the box
    gridlines: tuple[float, ...]  # y of the quarter lines


def line_chart(trend: Trend) -> LineChart:
    """A line per name of the trend, the busiest LINES-1 on their own and the rest summed (all of
    them when they are LINES or fewer); weeks left to right."""
    ranked = sorted(trend.lines, key=lambda line: (-sum(line[1]), line[0]))
    if len(ranked) > LINES:
        rest = ranked[LINES - 1 :]
        summed = tuple(sum(values) for values in zip(*(v for _, v in rest), strict=True))
        ranked = [*ranked[: LINES - 1], (f"{len(rest)} others", summed)]
    top = _nice_top(max((max(values, default=0) for _, values in ranked), default=0))
    count = len(trend.weeks)
    step = WIDTH / max(1, count - 1)

    def points(values: Sequence[int]) -> str:
        return " ".join(
            f"{round(index * step, 1)},{round(HEIGHT - HEIGHT * value / top, 1)}"
            for index, value in enumerate(values)
        )

    return LineChart(
        title=trend.title,
        lines=tuple(
            Line(name, points(values), index % SERIES, sum(values))
            for index, (name, values) in enumerate(ranked)
        ),
        weeks=tuple(str(week) for week in trend.weeks),
        top=top,
        gridlines=tuple(HEIGHT * quarter / 4 for quarter in range(4)),
    )


def _nice_top(value: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above `value` (at least 4: four gridlines)."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= max(value, 4):
                return factor * magnitude
        magnitude *= 10


def _shorten(label: str) -> str:
    if len(label) <= LABEL_CHARS:
        return label
    return label[: LABEL_CHARS - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"

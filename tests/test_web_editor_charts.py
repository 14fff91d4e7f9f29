"""The report page's chart geometry (web/editor/charts.py): pure functions of the figures."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from digest.engagement.report import Trend, last_weeks
from digest.web.editor.charts import HEIGHT, LINES, MAX_BARS, ROW, WIDTH, bar_chart, line_chart

WEEKS = last_weeks(datetime(2026, 12, 2, tzinfo=UTC), ZoneInfo("Europe/Paris"))


def test_bars_are_percentages_of_the_largest_sum_in_their_order() -> None:
    chart = bar_chart([("a", 6, 2), ("b", 4, 0), ("c", 0, 0)])
    assert [(bar.width, bar.other_width) for bar in chart.bars] == [(75.0, 25.0), (50.0, 0), (0, 0)]
    assert [bar.y for bar in chart.bars] == [0, ROW, 2 * ROW] and chart.height == 3 * ROW
    assert bar_chart([]).bars == () and bar_chart([("a", 0, 0)]).bars[0].width == 0


def test_many_bars_and_long_labels_are_cut_short() -> None:
    chart = bar_chart([("x" * 200, 1, 0)] * (MAX_BARS + 3))
    assert len(chart.bars) == MAX_BARS and chart.hidden == 3
    assert len(chart.bars[0].label) == 70 and chart.bars[0].label.endswith("…")


def test_lines_beyond_the_busiest_are_summed_and_scaled_to_a_round_top() -> None:
    names = [f"company {n}" for n in range(LINES + 2)]
    lines = tuple((name, (0,) * 11 + (n + 1,)) for n, name in enumerate(names))
    chart = line_chart(Trend("t", "Title", WEEKS, lines))
    assert [line.name for line in chart.lines] == [*reversed(names[-(LINES - 1) :]), "3 others"]
    assert chart.lines[-1].total == 1 + 2 + 3
    assert chart.top == 10  # the largest week, 8, rounded up to 1, 2 or 5 x 10^n
    first = chart.lines[0].points.split()
    assert len(first) == len(WEEKS) and first[0] == f"0.0,{float(HEIGHT)}"
    assert first[-1] == f"{float(WIDTH)},{HEIGHT - HEIGHT * 8 / 10}"
    assert [line.series for line in chart.lines] == list(range(LINES))

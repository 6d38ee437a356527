"""The example project's server-drawn charts (``common.charts``): pure Python, tested in-process."""

from __future__ import annotations

import importlib
import sys
from decimal import Decimal as D

import pytest

from tests.example.conftest import EXAMPLE_DIR

if str(EXAMPLE_DIR) not in sys.path:
    sys.path.append(str(EXAMPLE_DIR))
charts = importlib.import_module("common.charts")


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([4], ["0", "1", "2", "3", "4"]),
        ([29], ["0", "10", "20", "30"]),
        ([1897.5], ["0", "500", "1000", "1500", "2000"]),
        ([D("0.5")], ["0.0", "0.2", "0.4", "0.6"]),
        ([0, 0], ["0", "1", "2", "3", "4"]),
    ],
)
def test_the_axis_has_round_ticks_reaching_the_largest_value(
    values: list[object], ticks: list[str]
) -> None:
    assert [str(tick) for tick in charts.scale_for(values).ticks] == ticks


def test_counts_are_never_split_into_fractions() -> None:
    scale = charts.scale_for([1, 2, 3])

    assert all(tick == tick.to_integral_value() for tick in scale.ticks)


def test_stacked_bars_are_as_tall_as_their_share_of_the_axis() -> None:
    chart = charts.stacked_bars("Runs", ["1 Dec", "2 Dec"], {"A": [2, 0], "B": [2, 1]}, unit="runs")

    heights = {(bar.title.split(" · ")[0], bar.color): bar.height for bar in chart.bars}
    first_a, first_b = heights[("1 Dec", charts.PALETTE[0])], heights[("1 Dec", charts.PALETTE[1])]
    assert first_a == first_b
    assert heights[("2 Dec", charts.PALETTE[1])] == pytest.approx(first_a / 2)
    assert len(chart.bars) == 3  # a zero draws nothing


def test_the_table_behind_a_chart_has_every_period_and_the_totals() -> None:
    chart = charts.stacked_bars("Credits", ["a", "b"], {"X": [D("1.5"), 0], "Y": [1, 2]}, unit="c")

    assert chart.rows == [("a", ["1.50", "1"], "2.50"), ("b", ["0", "2"], "2")]
    assert charts.as_csv_rows(chart) == [
        ["period", "X", "Y", "total"],
        ["a", D("1.5"), 1, D("2.5")],
        ["b", 0, 2, D("2")],
    ]


def test_a_chart_of_zeros_says_it_has_no_data() -> None:
    assert not charts.stacked_bars("Runs", ["a"], {"X": [0]}, unit="runs").has_data
    assert not charts.line("Subscribers", ["a", "b"], [0, 0], unit="people").has_data


def test_a_line_ends_at_its_latest_value() -> None:
    chart = charts.line("Subscribers", ["a", "b", "c"], [1, 3, 2], unit="people")

    last_y = float(chart.points.split()[-1].split(",")[1])
    top_y = float(chart.points.split()[1].split(",")[1])
    assert chart.summary == "Subscribers: 2 people at the end of 3 periods."
    assert last_y > top_y

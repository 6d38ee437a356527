"""Charts drawn on the server as SVG, each with the table of its numbers.

A view builds a :class:`Chart` from its numbers (:func:`stacked_bars` for a quantity per day and
per series, :func:`line` for one quantity over time) and hands it to the template
``common/chart.html``, which draws the bars or the line and, under them, a disclosure with the
same numbers as a table: the chart for eyes, the table for screen readers, for readers without
CSS and for copying. Nothing is fetched from anywhere and nothing runs in the browser.

The geometry is computed here, in a fixed viewBox that the SVG scales to its container, so the
template only places shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

#: The viewBox: the SVG scales to the width of its container and keeps this aspect ratio.
WIDTH = 720
HEIGHT = 260
#: Room for the axis labels.
LEFT = 56
RIGHT = 12
TOP = 12
BOTTOM = 28
#: Colours of the series, in order: distinct for the common colour-vision deficiencies, and
#: each at least 3:1 against white.
PALETTE = ("#4f46e5", "#0f9d8a", "#d9480f", "#9333ea", "#c2255c", "#1971c2", "#5c940d")
#: Roughly how many labels the horizontal axis shows.
X_LABELS = 6
Y_TICKS = 4

Number = Decimal | int | float


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    #: What a tooltip says: "3 Nov · Sentiment: 12".
    title: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: list[Number]
    total: Number


@dataclass
class Chart:
    """Everything ``common/chart.html`` draws, and the table behind it."""

    title: str
    #: One sentence for assistive technology: what is shown and its total.
    summary: str
    unit: str
    kind: str
    labels: list[str]
    series: list[Series]
    bars: list[Bar] = field(default_factory=list)
    #: The line's ``points`` attribute, and its area under it.
    points: str = ""
    area: str = ""
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT
    #: Whether any value is not zero (an empty chart says so instead of drawing nothing).
    has_data: bool = False
    fmt: Callable[[Number], str] = field(default=lambda value: str(value), repr=False)

    def raw_rows(self) -> list[tuple[str, list[Number], Number]]:
        """Each label with the value of every series, and their sum."""
        columns = [s.values for s in self.series]
        return [
            (label, [column[i] for column in columns], sum((c[i] for c in columns), Decimal(0)))
            for i, label in enumerate(self.labels)
        ]

    @property
    def rows(self) -> list[tuple[str, list[str], str]]:
        """The table as people read it."""
        return [
            (label, [self.fmt(value) for value in values], self.fmt(total))
            for label, values, total in self.raw_rows()
        ]


@dataclass(frozen=True)
class Scale:
    """The vertical axis: its top and the step between its ticks, both round numbers."""

    top: Decimal
    step: Decimal

    @property
    def ticks(self) -> list[Decimal]:
        return [self.step * i for i in range(int(self.top / self.step) + 1)]


def scale_for(values: Sequence[Number]) -> Scale:
    """Round ticks (1, 2 or 5 times a power of ten, or 2.5 for fractional data) reaching at
    least the largest value, about :data:`Y_TICKS` of them; whole steps for whole data."""
    numbers = [Decimal(str(v)) for v in values]
    largest = max(numbers, default=Decimal(0))
    if largest <= 0:
        return Scale(Decimal(Y_TICKS), Decimal(1))
    whole = all(n == n.to_integral_value() for n in numbers)
    rough = largest / Y_TICKS
    base = Decimal(10) ** math.floor(math.log10(rough))
    factors = (1, 2, 5, 10) if whole else (1, 2, Decimal("2.5"), 5, 10)
    step = next(base * Decimal(f) for f in factors if base * Decimal(f) >= rough)
    if whole:
        step = max(step, Decimal(1))
    return Scale(step * math.ceil(largest / step), step)


def _format(value: Number) -> str:
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def _y_ticks(scale: Scale, fmt: Callable[[Number], str]) -> list[Tick]:
    span = HEIGHT - BOTTOM - TOP
    return [
        Tick(HEIGHT - BOTTOM - span * float(value / scale.top), fmt(value)) for value in scale.ticks
    ]


def _x_ticks(labels: Sequence[str], centres: Sequence[float]) -> list[Tick]:
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / X_LABELS))
    return [Tick(centres[i], labels[i]) for i in range(0, len(labels), every)]


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def stacked_bars(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[Number]],
    *,
    unit: str,
    fmt: Callable[[Number], str] = _format,
) -> Chart:
    """Bars for each label (a day, say), stacked by series (a service, say)."""
    named = [
        Series(name, PALETTE[i % len(PALETTE)], list(values), sum(values, Decimal(0)))
        for i, (name, values) in enumerate(series.items())
    ]
    totals = [sum(column, Decimal(0)) for column in zip(*(s.values for s in named), strict=True)]
    if not named:
        totals = [Decimal(0)] * len(labels)
    scale = scale_for(totals)
    top_value = scale.top
    span = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - RIGHT - LEFT) / max(1, len(labels))
    gap = min(6.0, slot * 0.25)
    bars = []
    for index, label in enumerate(labels):
        base = float(HEIGHT - BOTTOM)
        for item in named:
            value = Decimal(str(item.values[index]))
            if value <= 0:
                continue
            height = float(value / top_value) * span
            base -= height
            bars.append(
                Bar(
                    x=round(LEFT + index * slot + gap / 2, 2),
                    y=round(base, 2),
                    width=round(slot - gap, 2),
                    height=round(height, 2),
                    color=item.color,
                    title=f"{label} · {item.name}: {fmt(value)} {unit}",
                )
            )
    grand = sum(totals, Decimal(0))
    return Chart(
        title=title,
        summary=f"{title}: {fmt(grand)} {unit} in all over {len(labels)} periods.",
        unit=unit,
        kind="bars",
        labels=list(labels),
        series=named,
        bars=bars,
        y_ticks=_y_ticks(scale, fmt),
        x_ticks=_x_ticks(labels, [LEFT + (i + 0.5) * slot for i in range(len(labels))]),
        has_data=grand > 0,
        fmt=fmt,
    )


def line(
    title: str,
    labels: Sequence[str],
    values: Sequence[Number],
    *,
    unit: str,
    name: str = "",
    fmt: Callable[[Number], str] = _format,
) -> Chart:
    """One quantity over time (subscribers, credits outstanding), as a line over its area."""
    item = Series(name or title, PALETTE[0], list(values), values[-1] if values else 0)
    scale = scale_for(values)
    top_value = scale.top
    span = HEIGHT - BOTTOM - TOP
    step = (WIDTH - RIGHT - LEFT) / max(1, len(values) - 1)
    floor = HEIGHT - BOTTOM
    coordinates = [
        (round(LEFT + i * step, 2), round(floor - float(Decimal(str(v)) / top_value) * span, 2))
        for i, v in enumerate(values)
    ]
    points = " ".join(f"{x},{y}" for x, y in coordinates)
    area = ""
    if coordinates:
        area = f"{coordinates[0][0]},{floor} {points} {coordinates[-1][0]},{floor}"
    latest = fmt(values[-1]) if values else "0"
    return Chart(
        title=title,
        summary=f"{title}: {latest} {unit} at the end of {len(labels)} periods.",
        unit=unit,
        kind="line",
        labels=list(labels),
        series=[item],
        points=points,
        area=area,
        y_ticks=_y_ticks(scale, fmt),
        x_ticks=_x_ticks(labels, [x for x, _ in coordinates]),
        has_data=any(Decimal(str(v)) != 0 for v in values),
        fmt=fmt,
    )


def as_csv_rows(chart: Chart) -> list[list[Any]]:
    """The chart's table as rows for a CSV file, with a header."""
    header = ["period", *(s.name for s in chart.series)]
    if len(chart.series) > 1:
        header.append("total")
    rows: list[list[Any]] = [header]
    for label, values, total in chart.raw_rows():
        row: list[Any] = [label, *values]
        if len(chart.series) > 1:
            row.append(total)
        rows.append(row)
    return rows

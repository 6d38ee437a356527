"""The overview's usage chart: credits spent per service and per day.

The services framework counts runs per day and service (``execution.usage``) but only for days
with runs; a chart must show the quiet days too, or a week without runs would vanish from the
axis. So every day of the period gets a value, zero when nothing ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from common.charts import Chart, day_label, stacked_bars
from django.utils import timezone
from django.utils.translation import gettext as _

from quickscale.credits.amounts import for_people
from quickscale.services import execution

#: How many days the chart covers, today included.
DAYS = 30


@dataclass(frozen=True)
class Usage:
    chart: Chart
    #: Credits spent and runs made over the period.
    spent: Decimal
    runs: int
    days: int


def usage(user: Any, days: int = DAYS) -> Usage:
    """The last ``days`` days of ``user``'s runs, as a chart stacked by service."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    period = [first + timedelta(days=offset) for offset in range(days)]
    position = {day: index for index, day in enumerate(period)}
    spent: dict[str, list[Decimal]] = {}
    runs = 0
    for row in execution.usage(user, since=first):
        index = position.get(row["day"])
        if index is None:
            continue
        runs += row["runs"]
        if row["credits"]:
            values = spent.setdefault(row["name"], [Decimal(0)] * days)
            values[index] += row["credits"]
    series = dict(sorted(spent.items())) or {_("Credits"): [Decimal(0)] * days}
    chart = stacked_bars(
        _("Credits spent per day"),
        [day_label(day) for day in period],
        series,
        unit=_("credits"),
        fmt=for_people,
    )
    total = sum((sum(values, Decimal(0)) for values in spent.values()), Decimal(0))
    return Usage(chart, total, runs, days)

"""The dashboard's charts, by name: the analytics page draws them and
``/dashboard/analytics/<name>.csv`` serves the numbers of each, so the page and the file can
never disagree (both come from one :class:`DashboardChart`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from common.charts import Chart, Number, as_csv_rows, day_label, line, stacked_bars
from django.utils.translation import gettext as _

from admin_dashboard import analytics
from admin_dashboard.analytics import Window
from quickscale.billing.models import minor_unit_exponent
from quickscale.credits.amounts import for_people

#: A revenue chart's name is this prefix and the currency: ``revenue-usd``.
REVENUE = "revenue-"


@dataclass(frozen=True)
class DashboardChart:
    name: str
    chart: Chart
    window: Window

    def csv_rows(self) -> list[list[Any]]:
        """The chart's table with ISO dates: the labels on the page ("3 Nov") are for people,
        the file is for spreadsheets."""
        rows = as_csv_rows(self.chart)
        for row, day in zip(rows[1:], self.window.days, strict=True):
            row[0] = day.isoformat()
        return rows


def _labels(window: Window) -> list[str]:
    return [day_label(day) for day in window.days]


def _credits(value: Number) -> str:
    return for_people(Decimal(str(value)))


def runs(window: Window) -> Chart:
    return stacked_bars(
        _("Runs per service"),
        _labels(window),
        analytics.runs_per_service(window),
        unit=_("runs"),
    )


def credits_spent(window: Window) -> Chart:
    return stacked_bars(
        _("Credits spent per service"),
        _labels(window),
        analytics.credits_spent_per_service(window),
        unit=_("credits"),
        fmt=_credits,
    )


def subscribers(window: Window) -> Chart:
    return line(
        _("Active subscribers"),
        _labels(window),
        analytics.subscribers_per_day(window),
        unit=_("subscribers"),
        name=_("Subscribers"),
    )


def churn(window: Window) -> Chart:
    return stacked_bars(
        _("Subscriptions ended (churn)"),
        _labels(window),
        {_("Ended"): analytics.churn_per_day(window)},
        unit=_("subscriptions"),
    )


def outstanding(window: Window) -> Chart:
    return line(
        _("Credits outstanding"),
        _labels(window),
        analytics.outstanding_per_day(window),
        unit=_("credits"),
        name=_("Credits"),
        fmt=_credits,
    )


def revenue(window: Window, currency: str) -> Chart:
    places = minor_unit_exponent(currency)
    code = currency.upper()
    return stacked_bars(
        _("Revenue in %(currency)s (payments minus refunds)") % {"currency": code},
        _labels(window),
        {code: analytics.revenue_per_day(window, currency)},
        unit=code,
        fmt=lambda value: f"{Decimal(str(value)):,.{places}f}",
    )


#: The charts that exist whatever the data; revenue charts exist per currency.
CHARTS: dict[str, Callable[[Window], Chart]] = {
    "runs": runs,
    "credits-spent": credits_spent,
    "subscribers": subscribers,
    "churn": churn,
    "outstanding": outstanding,
}


def names() -> list[str]:
    """Every chart, in the order the analytics page shows them."""
    return [
        "runs",
        "credits-spent",
        *(f"{REVENUE}{currency}" for currency in analytics.currencies()),
        "subscribers",
        "churn",
        "outstanding",
    ]


def build(name: str, window: Window | None = None) -> DashboardChart | None:
    """The chart called ``name`` over ``window`` (the last 30 days), or ``None`` when there is
    no such chart."""
    window = window or Window.last()
    if name.startswith(REVENUE):
        currency = name.removeprefix(REVENUE)
        if currency not in analytics.currencies():
            return None
        return DashboardChart(name, revenue(window, currency), window)
    builder = CHARTS.get(name)
    if builder is None:
        return None
    return DashboardChart(name, builder(window), window)

"""The overview: this month at a glance, and the analytics page with every chart and its CSV
download."""

from __future__ import annotations

import csv

from common.decorators import staff_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from admin_dashboard import analytics, charts
from admin_dashboard.analytics import Window


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    since = analytics.month_start()
    window = Window.last()
    return render(
        request,
        "admin_dashboard/overview.html",
        {
            "month": since,
            "revenue": analytics.revenue(since),
            "subscribers": analytics.active_subscribers(),
            "credits": analytics.credit_totals(since),
            "runs": analytics.run_totals(since),
            "sign_ups": analytics.sign_ups(since),
            "charts": [_drawn(charts.build(name, window)) for name in ("runs", "outstanding")],
        },
    )


def _drawn(chart: charts.DashboardChart | None) -> dict[str, object]:
    assert chart is not None  # only charts that always exist are drawn by name
    return {
        "name": chart.name,
        "chart": chart.chart,
        "csv_url": reverse("admin_dashboard:analytics_csv", args=[chart.name]),
    }


@staff_required
def analytics_page(request: HttpRequest) -> HttpResponse:
    window = Window.last()
    drawn = [_drawn(charts.build(name, window)) for name in charts.names()]
    return render(
        request,
        "admin_dashboard/analytics.html",
        {"charts": drawn, "first_day": window.days[0], "last_day": window.days[-1]},
    )


@staff_required
def analytics_csv(request: HttpRequest, name: str) -> HttpResponse:
    """One chart's numbers, exactly those of its table, as a CSV download."""
    chart = charts.build(name)
    if chart is None:
        raise Http404("There is no such chart.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerows(chart.csv_rows())
    return response

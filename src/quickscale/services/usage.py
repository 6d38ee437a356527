"""What users spent on services: runs and credits per service and per day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from quickscale.credits.amounts import quantize
from quickscale.services.models import RunStatus, ServiceRun


def usage(user: Any, *, since: date | None = None) -> list[dict[str, Any]]:
    """Runs and credits spent per service and per day, newest day first."""
    runs = ServiceRun.objects.filter(user=user)
    if since is not None:
        runs = runs.filter(created_at__date__gte=since)
    rows = (
        runs.annotate(day=TruncDate("created_at"))
        .values("day", "service__slug", "service__name")
        .annotate(
            runs=Count("id"),
            succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
            credits=Sum("cost"),
        )
        .order_by("-day", "service__slug")
    )
    return [
        {
            "day": row["day"],
            "service": row["service__slug"],
            "name": row["service__name"],
            "runs": row["runs"],
            "succeeded": row["succeeded"],
            "credits": quantize(row["credits"] or Decimal(0)),
        }
        for row in rows
    ]

"""``GET /api/v1/usage``: runs and credits per service and per day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from quickscale.services.execution import execute
from quickscale.services.models import ServiceRun
from tests.api.conftest import API, assert_error

URL = "/api/v1/usage"


def test_usage_counts_runs_and_credits_per_service_and_day(api: API, funded: Any) -> None:
    execute(funded, "echo", {"text": "a"})
    execute(funded, "echo", {"text": "b"})
    execute(funded, "explodes", {})
    today = timezone.now().date().isoformat()

    body = api.get(URL).json()

    assert body == {
        "data": [
            {
                "day": today,
                "service": "echo",
                "name": "Echo",
                "runs": 2,
                "succeeded": 2,
                "credits": "4.00",
            },
            {
                "day": today,
                "service": "explodes",
                "name": "Explodes",
                "runs": 1,
                "succeeded": 0,
                "credits": "0.00",
            },
        ]
    }


def test_since_leaves_out_earlier_days(api: API, funded: Any) -> None:
    old = execute(funded, "free", {})
    ServiceRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    execute(funded, "free", {})
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()

    days = [row["day"] for row in api.get(URL, since=yesterday).json()["data"]]

    assert days == [timezone.now().date().isoformat()]
    assert len(api.get(URL).json()["data"]) == 2


@pytest.mark.parametrize(
    "since",
    [
        "",
        "yesterday",
        "2025-13-01",
        "2025-02-30",
        "20250101",
        "2025-W01-1",
        "\u0662\u0660\u0662\u0665-01-01",
    ],
)
def test_a_bad_since_is_a_400(api: API, since: str) -> None:
    error = assert_error(api.get(URL, since=since), 400, "invalid_parameter")

    assert error["details"] == {"parameter": "since"}


def test_usage_is_the_callers_own(api: API, funded: Any, make_user: Callable[..., Any]) -> None:
    execute(make_user(), "free", {})

    assert api.get(URL).json() == {"data": []}

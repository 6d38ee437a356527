"""Background tasks of ``quickscale.services`` (``django.tasks``, or the ``django-tasks``
backport on Django 5.2). Services with ``run_async = True`` need one of them."""

from __future__ import annotations

from typing import Any

from quickscale.core.tasks import task
from quickscale.services import execution

if task is not None:

    @task()
    def perform_run(run_id: int, data: dict[str, Any]) -> str | None:
        """Start the queued run ``run_id`` on its input ``data``; returns the run's status, or
        ``None`` when it was no longer queued (a duplicate delivery)."""
        run = execution.perform_queued(run_id, data)
        return None if run is None else run.status

    @task()
    def sweep_services() -> dict[str, int]:
        """Release holds of crashed work and fail the runs they belonged to."""
        return {"failed_runs": execution.sweep_runs()}

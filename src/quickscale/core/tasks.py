"""One import path for background tasks on every supported Django version.

Django 6.0 ships ``django.tasks``; on Django 5.2 the ``django-tasks`` backport provides the same
API (``pip install django-quickscale[tasks]``). Apps import ``task`` from here and check
``TASKS_AVAILABLE`` before enqueueing.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models, router

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2
    try:
        from django_tasks import task  # type: ignore[no-redef,unused-ignore]
    except ImportError:
        task = None  # type: ignore[assignment,unused-ignore]

TASKS_AVAILABLE: bool = task is not None


def queues_with(queued: Any, model: type[models.Model]) -> bool:
    """Whether the task ``queued`` goes to ``django_tasks_db`` writing to ``model``'s database.

    Then a row of ``model`` and the task that handles it are written in one transaction: both
    or neither, with one commit, so a crash or an outage between the two cannot leave a row no
    task will ever handle. Other backends are given the task once the row is committed, so a
    worker never looks for a row it cannot see yet.

    The app registry is asked first: the package may be importable without its app in
    ``INSTALLED_APPS``, and importing its models then raises ``RuntimeError``.
    """
    if not TASKS_AVAILABLE or not apps.is_installed("django_tasks_db"):
        return False
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        return False
    return isinstance(queued.get_backend(), DatabaseBackend) and (
        router.db_for_write(DBTaskResult) == router.db_for_write(model)
    )


__all__ = ["TASKS_AVAILABLE", "queues_with", "task"]

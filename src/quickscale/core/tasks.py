"""One import path for background tasks on every supported Django version.

Django 6.0 ships ``django.tasks``; on Django 5.2 the ``django-tasks`` backport provides the same
API (``pip install django-quickscale[tasks]``). Apps import ``task`` from here and check
``TASKS_AVAILABLE`` before enqueueing.
"""

from __future__ import annotations

try:
    from django.tasks import task  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # Django 5.2
    try:
        from django_tasks import task  # type: ignore[no-redef,unused-ignore]
    except ImportError:
        task = None  # type: ignore[assignment,unused-ignore]

TASKS_AVAILABLE: bool = task is not None

__all__ = ["TASKS_AVAILABLE", "task"]

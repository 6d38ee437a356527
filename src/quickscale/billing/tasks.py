"""Background tasks of ``quickscale.billing`` (``django.tasks``, or the ``django-tasks``
backport on Django 5.2).

The webhook view stores each event and enqueues :func:`process_webhook_event` for it; with
Django's default immediate backend the event is processed before the response, with a worker
backend (``django_tasks_db``...) the response goes out first. Without any tasks framework the
event is processed in the request, as the immediate backend would.
"""

from __future__ import annotations

from django.apps import apps
from django.db import router

from quickscale.billing import handlers
from quickscale.billing.models import WebhookEvent
from quickscale.core.tasks import TASKS_AVAILABLE, task

__all__ = ["enqueue_event", "queues_in_database"]

if task is not None:

    @task()
    def process_webhook_event(event_id: int) -> str:
        """Process one stored Stripe event (a no-op when it was processed already)."""
        return str(handlers.process(event_id).status)


def queues_in_database() -> bool:
    """Whether the task backend is ``django_tasks_db`` writing to the events' database. The
    webhook then stores the event and queues its task in one transaction: both or neither, with
    one commit. Other backends are given the task once the event is committed, so a worker
    never looks for an event it cannot see yet.

    The app registry is asked first: the package may be importable without its app in
    ``INSTALLED_APPS``, and importing its models then raises ``RuntimeError``."""
    if not TASKS_AVAILABLE or not apps.is_installed("django_tasks_db"):
        return False
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult
    except ImportError:
        return False
    return isinstance(process_webhook_event.get_backend(), DatabaseBackend) and (
        router.db_for_write(DBTaskResult) == router.db_for_write(WebhookEvent)
    )


def enqueue_event(event_id: int) -> None:
    """Process the stored event in the background (or at once without a tasks framework)."""
    if TASKS_AVAILABLE:
        process_webhook_event.enqueue(event_id)
    else:
        handlers.process(event_id)

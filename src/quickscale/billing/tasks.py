"""Background tasks of ``quickscale.billing`` (``django.tasks``, or the ``django-tasks``
backport on Django 5.2).

The webhook view stores each event and enqueues :func:`process_webhook_event` for it; with
Django's default immediate backend the event is processed before the response, with a worker
backend (``django_tasks_db``...) the response goes out first. Without any tasks framework the
event is processed in the request, as the immediate backend would.
"""

from __future__ import annotations

from quickscale.billing import handlers
from quickscale.billing.models import WebhookEvent
from quickscale.core.tasks import TASKS_AVAILABLE, queues_with, task

__all__ = ["enqueue_event", "queues_in_database"]

if task is not None:

    @task()
    def process_webhook_event(event_id: int) -> str:
        """Process one stored Stripe event (a no-op when it was processed already)."""
        return str(handlers.process(event_id).status)


def queues_in_database() -> bool:
    """Whether the webhook stores each event and queues its task in one transaction (see
    :func:`quickscale.core.tasks.queues_with`)."""
    return TASKS_AVAILABLE and queues_with(process_webhook_event, WebhookEvent)


def enqueue_event(event_id: int) -> None:
    """Process the stored event in the background (or at once without a tasks framework)."""
    if TASKS_AVAILABLE:
        process_webhook_event.enqueue(event_id)
    else:
        handlers.process(event_id)

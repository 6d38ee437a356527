"""Processing stored webhook events: one handler per event type, each safe to run again.

:func:`process` runs in a task (``django.tasks``) after the webhook view stored the event. It
locks the event's row, so one event is processed by one worker at a time, and calls the
handler in a savepoint: a handler that raises rolls back everything it did, and the event is
marked ``failed`` with the error (and logged), to be run again by ``manage.py billing replay``
or ``billing reconcile --repair``. Nothing is lost and nothing is applied twice: a handler
either does nothing (the payment was recorded already) or applies Stripe's current state.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from quickscale.billing import catalog, payments
from quickscale.billing.models import EventStatus, WebhookEvent
from quickscale.billing.objects import Data, ref
from quickscale.billing.payments import Outcome
from quickscale.billing.subscriptions import sync_subscription

logger = logging.getLogger(__name__)

Handler = Callable[[WebhookEvent, Data], Outcome]


def checkout_completed(event: WebhookEvent, session: Data) -> Outcome:
    """``checkout.session.completed`` / ``async_payment_succeeded``: the session in the event is
    final for that moment, and an unpaid one grants nothing until its payment succeeds."""
    return payments.record_checkout(session)


def checkout_failed(event: WebhookEvent, session: Data) -> Outcome:
    """``checkout.session.async_payment_failed``: record the failed payment (no credits)."""
    return payments.record_checkout_failure(session)


def invoice_paid(event: WebhookEvent, invoice: Data) -> Outcome:
    """``invoice.paid``: record the payment and grant the plan's credits for the period."""
    return payments.record_invoice(invoice)


def invoice_payment_failed(event: WebhookEvent, invoice: Data) -> Outcome:
    """``invoice.payment_failed``: record the failure and sync the subscription."""
    return payments.record_invoice_failure(invoice)


def subscription_changed(event: WebhookEvent, subscription: Data) -> Outcome:
    """``customer.subscription.*``: re-read from Stripe, whatever the event says."""
    synced = sync_subscription(
        subscription["id"], fallback=subscription, event_created=event.created
    )
    if synced is None:
        return Outcome(False, "Stripe does not know the subscription")
    return Outcome(True, f"subscription is {synced.status}")


def charge_refunded(event: WebhookEvent, charge: Data) -> Outcome:
    """``charge.refunded``: record the charge's new refunds and take back their credits."""
    return payments.record_refunds(charge["id"])


def product_changed(event: WebhookEvent, product: Data) -> Outcome:
    """``product.*``: re-read the product from Stripe."""
    found = catalog.refresh_product(product["id"])
    if found is None:
        return Outcome(False, "a product we never mirrored was deleted")
    return Outcome(True, f"product is {'active' if found.active else 'inactive'}")


def price_changed(event: WebhookEvent, price: Data) -> Outcome:
    """``price.*``: re-read the price from Stripe."""
    found = catalog.refresh_price(price["id"])
    if found is None:
        return Outcome(False, "a price we never mirrored was deleted")
    return Outcome(True, f"price is {'on sale' if found.on_sale else 'not on sale'}")


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "checkout.session.async_payment_succeeded": checkout_completed,
    "checkout.session.async_payment_failed": checkout_failed,
    "invoice.paid": invoice_paid,
    "invoice.payment_failed": invoice_payment_failed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
    "charge.refunded": charge_refunded,
    "product.created": product_changed,
    "product.updated": product_changed,
    "product.deleted": product_changed,
    "price.created": price_changed,
    "price.updated": price_changed,
    "price.deleted": price_changed,
}

#: The event types the webhook stores; Stripe's other events are answered 200 and dropped.
HANDLED_TYPES = frozenset(HANDLERS)
FINISHED = (EventStatus.PROCESSED, EventStatus.IGNORED)


def process(event_id: int, *, force: bool = False) -> WebhookEvent:
    """Process a stored event unless it was processed already (``force`` runs it again, which
    changes nothing that is up to date). Returns the event as processing left it."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if event.status in FINISHED and not force:
            return event
        event.attempts += 1
        handler = HANDLERS.get(event.type)
        try:
            with transaction.atomic():
                if handler is None:
                    outcome = Outcome(False, f"{event.type} events are not handled")
                else:
                    outcome = handler(event, event.data_object)
        # Every error is kept: stored on the event and logged with its traceback; the event
        # stays failed until a replay succeeds. Stripe was answered when the event was stored.
        except Exception as error:
            logger.exception("Processing Stripe event %s (%s) failed", event.stripe_id, event.type)
            event.status = EventStatus.FAILED
            event.error = f"{type(error).__name__}: {error}"
            event.processed_at = None
        else:
            event.status = EventStatus.PROCESSED if outcome.done else EventStatus.IGNORED
            event.note = outcome.note[:255]
            event.error = ""
            event.processed_at = timezone.now()
        event.save(update_fields=["status", "attempts", "error", "note", "processed_at"])
    return event


#: An event still unfinished this long after it was stored is the sweep's: the worker that had
#: it died, or its processing failed (Stripe out of reach...).
STALE = timedelta(minutes=5)
#: Events the sweep processes at most per pass, and attempts it makes at most per event; past
#: them an event waits for ``manage.py billing replay``.
SWEEP_BATCH = 100
SWEEP_ATTEMPTS = 5


def sweep_events(now: datetime) -> dict[str, int]:
    """Billing's part of the sweep: process again the events left unfinished, pending (a task
    worker killed while it had them) or failed, oldest first. Processing is idempotent, so an
    event a worker finishes meanwhile is left as it is."""
    due = (
        WebhookEvent.objects.filter(
            status__in=[EventStatus.PENDING, EventStatus.FAILED],
            received_at__lte=now - STALE,
            attempts__lt=SWEEP_ATTEMPTS,
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    outcomes = Counter(process(pk).status for pk in list(due))
    if outcomes:
        logger.warning("The sweep processed unfinished Stripe events again: %s", dict(outcomes))
    return {
        "events_processed": outcomes[EventStatus.PROCESSED] + outcomes[EventStatus.IGNORED],
        "events_failed": outcomes[EventStatus.FAILED],
    }


def object_id(payload: Data) -> str:
    """The id of an event's ``data.object``."""
    return ref((payload.get("data") or {}).get("object")) or ""

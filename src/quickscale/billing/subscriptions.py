"""Our copy of each Stripe subscription, always Stripe's latest state.

Subscription events can arrive late, twice, or in any order, and two of them may be processed
at the same moment. So no event's copy of the subscription is applied: :func:`sync_subscription`
locks the subscription's id, reads it from Stripe, and writes what it read. Whichever sync runs
last read Stripe last, so every order of deliveries ends with Stripe's current state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from quickscale.billing import locks
from quickscale.billing.catalog import ensure_price
from quickscale.billing.client import get_client
from quickscale.billing.customers import user_for_customer
from quickscale.billing.models import Customer, Price, Subscription, SubscriptionStatus
from quickscale.billing.objects import Data, as_data, dig, is_missing, moment, ref
from quickscale.billing.signals import billing_event

logger = logging.getLogger(__name__)

#: Fields copied from Stripe, compared to decide whether anything changed.
STATE_FIELDS = (
    "price_id",
    "status",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "cancel_at",
    "canceled_at",
    "ended_at",
)


def fetch_subscription(stripe_id: str) -> Data | None:
    """The subscription as Stripe has it now, or ``None`` when Stripe does not know it."""
    import stripe

    try:
        return as_data(get_client().v1.subscriptions.retrieve(stripe_id))
    except stripe.InvalidRequestError as error:
        if is_missing(error):
            return None
        raise


def plan_item(data: Data) -> Data | None:
    """The subscription's item (a plan is sold as a subscription of one price)."""
    items = dig(data, "items.data") or []
    return items[0] if items else None


def sync_subscription(
    stripe_id: str,
    *,
    fetched: Data | None = None,
    fallback: Data | None = None,
    event_created: datetime | None = None,
) -> Subscription | None:
    """Bring our copy of a subscription up to Stripe's current state.

    ``fetched`` is the subscription as a Stripe API call made *under this lock* returned it
    (after an update), saving a read. ``fallback`` is an event's copy, used only when Stripe no
    longer has the subscription. Returns ``None`` for a subscription Stripe does not know and
    we never had.
    """
    with transaction.atomic():
        locks.lock(stripe_id)
        data = fetched if fetched is not None else fetch_subscription(stripe_id)
        if data is None:
            data = fallback
        if data is None:
            logger.warning("Stripe has no subscription %s; nothing to sync.", stripe_id)
            return Subscription.objects.filter(stripe_id=stripe_id).first()
        return _store(data, event_created)


def ensure_subscription(stripe_id: str) -> Subscription | None:
    """Our copy of the subscription, synced from Stripe when we have none yet."""
    found = Subscription.objects.filter(stripe_id=stripe_id).select_related("user").first()
    return found if found is not None else sync_subscription(stripe_id)


def _store(data: Data, event_created: datetime | None) -> Subscription:
    stripe_id = data["id"]
    customer_id = ref(data.get("customer"))
    if customer_id is None:
        raise ValueError(f"Stripe subscription {stripe_id} has no customer.")
    user = user_for_customer(customer_id)
    customer = Customer.objects.get(stripe_id=customer_id)
    item = plan_item(data) or {}
    price_id = ref(item.get("price"))
    price: Price | None = ensure_price(price_id) if price_id else None
    state: dict[str, Any] = {
        "price_id": price.pk if price is not None else None,
        "status": data.get("status") or SubscriptionStatus.INCOMPLETE,
        # Since Stripe's 2025-03-31 API the period belongs to the subscription item.
        "current_period_start": moment(
            item.get("current_period_start", data.get("current_period_start"))
        ),
        "current_period_end": moment(
            item.get("current_period_end", data.get("current_period_end"))
        ),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
        "cancel_at": moment(data.get("cancel_at")),
        "canceled_at": moment(data.get("canceled_at")),
        "ended_at": moment(data.get("ended_at")),
    }
    now = timezone.now()
    subscription = Subscription.objects.filter(stripe_id=stripe_id).first()
    if subscription is None:
        subscription = Subscription.objects.create(
            stripe_id=stripe_id,
            customer=customer,
            user=user,
            synced_at=now,
            last_event_at=event_created,
            **state,
        )
        _announce(subscription, "billing.subscription.created", {})
        return subscription
    before = {name: getattr(subscription, name) for name in STATE_FIELDS}
    for name, value in state.items():
        setattr(subscription, name, value)
    subscription.synced_at = now
    if event_created is not None and (
        subscription.last_event_at is None or event_created > subscription.last_event_at
    ):
        subscription.last_event_at = event_created
    subscription.save()
    changes = {
        name: [_text(before[name]), _text(state[name])]
        for name in STATE_FIELDS
        if before[name] != state[name]
    }
    if changes:
        action = (
            "billing.subscription.canceled"
            if state["status"] == SubscriptionStatus.CANCELED
            and before["status"] != SubscriptionStatus.CANCELED
            else "billing.subscription.updated"
        )
        _announce(subscription, action, changes)
    return subscription


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _announce(subscription: Subscription, action: str, changes: dict[str, Any]) -> None:
    billing_event.send(
        sender=Subscription,
        action=action,
        user=subscription.user,
        target=subscription,
        metadata={
            "subscription": subscription.stripe_id,
            "status": subscription.status,
            "price": subscription.price.stripe_id if subscription.price is not None else None,
            "changes": changes,
        },
    )

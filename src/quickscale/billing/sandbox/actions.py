"""What people and staff do in the sandbox, outside the Stripe API: pay or decline a checkout,
move a subscription on by one period. Each change is made in one transaction, then its events
are delivered to the webhook endpoint (:mod:`~quickscale.billing.sandbox.delivery`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from quickscale.billing.customers import customer_of
from quickscale.billing.exceptions import SandboxError
from quickscale.billing.models import Subscription
from quickscale.billing.objects import is_stripe_id, moment
from quickscale.billing.sandbox import delivery, guard, lifecycle
from quickscale.billing.sandbox.account import Account, ApiError, Data
from quickscale.billing.sandbox.store import DatabaseStore

__all__ = [
    "Advanced",
    "account",
    "advance_period",
    "checkout_session",
    "complete_checkout",
    "portal_session",
    "require_active",
]


def require_active() -> None:
    """Raise ``SandboxError`` (``sandbox_inactive``) unless the sandbox is active."""
    if not guard.is_active():
        raise SandboxError(
            "The payment sandbox is not active (QUICKSCALE_BILLING_SANDBOX, with DEBUG on).",
            code="sandbox_inactive",
        )


def account() -> Account:
    """The site's sandbox account (its objects in the database), to build objects directly."""
    return Account(DatabaseStore())


def _owned(user: Any, data: Data | None) -> Data | None:
    customer = customer_of(user) if getattr(user, "is_authenticated", False) else None
    if data is None or customer is None or data.get("customer") != customer.stripe_id:
        return None
    return data


def checkout_session(user: Any, session_id: str) -> Data | None:
    """The sandbox's checkout session, if it is ``user``'s; ``None`` for anyone else's (and
    for an id that cannot be one)."""
    require_active()
    if not is_stripe_id(session_id):
        return None
    return _owned(user, account().get("checkout/sessions", session_id))


def portal_session(user: Any, session_id: str) -> Data | None:
    """The sandbox's billing portal session, if it is ``user``'s."""
    require_active()
    if not is_stripe_id(session_id):
        return None
    return _owned(user, account().get("billing_portal/sessions", session_id))


def complete_checkout(user: Any, session_id: str, *, paid: bool) -> Data | None:
    """Pay (``paid``) or decline the user's open checkout session and deliver the events
    Stripe would send; the session as it is now, or ``None`` when it is not the user's. A
    session completed before is left as it is (a double click, the back button)."""
    if checkout_session(user, session_id) is None:
        return None
    sandbox = account()
    with transaction.atomic():
        events = lifecycle.complete_checkout(sandbox, session_id, paid=paid)
    delivery.deliver(events)
    return sandbox.get("checkout/sessions", session_id)


@dataclass(frozen=True)
class Advanced:
    """What :func:`advance_period` did: ``ended`` (a subscription cancelled at period end
    ended), else renewed for the period from ``period_start`` to ``period_end``."""

    subscription: str
    ended: bool
    period_start: datetime | None
    period_end: datetime | None
    events: list[str]


def advance_period(subscription: Subscription | str) -> Advanced:
    """Move a sandbox subscription on by one period, as if its period had ended: the next
    period (starting at the current period's end) is invoiced and paid now, and
    ``invoice.paid`` and ``customer.subscription.updated`` are delivered, so the period's
    credits arrive through the webhook, expiring at its end. A subscription cancelled at
    period end ends instead (``customer.subscription.deleted``)."""
    require_active()
    stripe_id = subscription if isinstance(subscription, str) else subscription.stripe_id
    sandbox = account()
    try:
        with transaction.atomic():
            events = lifecycle.advance(sandbox, stripe_id)
    except ApiError as error:
        raise SandboxError(str(error), details={"subscription": stripe_id}) from None
    delivery.deliver(events)
    data = sandbox.get("subscriptions", stripe_id) or {}
    item = data["items"]["data"][0]
    return Advanced(
        subscription=stripe_id,
        ended=data.get("status") == "canceled",
        period_start=moment(item.get("current_period_start")),
        period_end=moment(item.get("current_period_end")),
        events=[event["id"] for event in events],
    )

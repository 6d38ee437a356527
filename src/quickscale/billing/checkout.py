"""What a signed-in person does with billing: buy a pack or a plan through Stripe Checkout,
open the Customer Portal, change or cancel their plan.

Nothing here grants credits. Checkout sends the buyer to Stripe; the credits arrive with the
verified ``checkout.session.completed`` or ``invoice.paid`` webhook. :func:`checkout_status`
tells the success page what is known so far, and refuses a session of anyone else.

Plan changes: an upgrade (a plan costing more per month) starts a new period at once, is
invoiced immediately with the unused time of the old plan credited, and applies only once that
invoice is paid (``payment_behavior=pending_if_incomplete``); its ``invoice.paid`` grants the
new plan's credits. A downgrade switches the price without proration: the current period and
its credits stay, and the next renewal bills and grants the smaller plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from django.db import transaction
from django.utils.translation import gettext

from quickscale.billing import locks
from quickscale.billing.client import get_client, require_enabled
from quickscale.billing.customers import USER_KEY, customer_of, get_or_create_customer
from quickscale.billing.exceptions import (
    BillingError,
    PriceUnavailable,
    SubscriptionConflict,
)
from quickscale.billing.models import (
    LIVE_STATUSES,
    Payment,
    PaymentStatus,
    Price,
    PriceKind,
    Subscription,
)
from quickscale.billing.objects import as_data, checked_id, is_stripe_id, ref, unavailable
from quickscale.billing.payments import CREDITS_KEY, PAID_CHECKOUT, PRICE_KEY
from quickscale.billing.subscriptions import fetch_subscription, plan_item, sync_subscription
from quickscale.credits.amounts import display

if TYPE_CHECKING:
    from stripe.params import SubscriptionUpdateParams
    from stripe.params.checkout import SessionCreateParams

__all__ = [
    "CheckoutStatus",
    "change_plan",
    "checkout_status",
    "is_upgrade",
    "live_subscription",
    "portal_url",
    "set_cancel_at_period_end",
    "start_checkout",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: Placeholder Stripe replaces with the session id in the success URL.
SESSION_ID_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
#: Days in a billing interval, to compare plans billed at different intervals.
INTERVAL_DAYS = {"day": Decimal(1), "week": Decimal(7), "month": Decimal(30), "year": Decimal(365)}


def asks_stripe(operation: Callable[P, R]) -> Callable[P, R]:
    """Make every Stripe failure met by ``operation`` a ``StripeUnavailable`` (logged): its own
    requests and those of what it calls (the customer made on a first checkout, the
    subscription's sync). Its caller then answers one way, whichever request failed, and the
    operation's transaction is rolled back: nothing changed here."""

    @wraps(operation)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        import stripe

        try:
            return operation(*args, **kwargs)
        except stripe.StripeError as error:
            logger.warning("Stripe request failed in %s: %r", operation.__name__, error)
            raise unavailable(error) from error

    return wrapped


def live_subscription(user: Any) -> Subscription | None:
    """The user's subscription that gives them a plan now (at most one is sold)."""
    return (
        Subscription.objects.filter(user=user, status__in=LIVE_STATUSES)
        .select_related("price__product")
        .order_by("-created_at", "-pk")
        .first()
    )


def _price_on_sale(stripe_id: str) -> Price:
    checked_id(stripe_id, "price")
    price = Price.objects.on_sale().select_related("product").filter(stripe_id=stripe_id).first()
    if price is None:
        raise PriceUnavailable(
            gettext("That price is not on sale."), details={"price": stripe_id, "field": "price"}
        )
    return price


@asks_stripe
def start_checkout(user: Any, price_id: str, *, success_url: str, cancel_url: str) -> str:
    """Create a Stripe Checkout Session for a pack or a plan and return its URL.

    ``success_url`` should contain ``{CHECKOUT_SESSION_ID}``. A plan cannot be bought while
    the user has one: they change it instead.
    """
    require_enabled()
    price = _price_on_sale(price_id)
    if price.kind == PriceKind.PLAN and live_subscription(user) is not None:
        raise SubscriptionConflict(
            gettext("You have a plan already: change it instead of buying a second one."),
            details={"price": price_id},
        )
    customer = get_or_create_customer(user)
    metadata = {USER_KEY: str(user.pk), PRICE_KEY: price.stripe_id}
    params: SessionCreateParams = {
        "customer": customer.stripe_id,
        "client_reference_id": str(user.pk),
        "line_items": [{"price": price.stripe_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
    }
    if price.kind == PriceKind.PACK:
        assert price.credits is not None  # a price on sale sells credits
        # The credits shown to the buyer are the ones granted, even if the catalog changes
        # before the payment completes.
        metadata[CREDITS_KEY] = display(price.credits)
        params["mode"] = "payment"
        params["payment_intent_data"] = {"metadata": metadata}
    else:
        params["mode"] = "subscription"
        params["subscription_data"] = {"metadata": metadata}
    session = as_data(get_client().v1.checkout.sessions.create(params=params))
    url: str = session["url"]
    return url


@asks_stripe
def portal_url(user: Any, return_url: str) -> str:
    """A Stripe Customer Portal session for the user (invoices, payment methods, plan)."""
    require_enabled()
    customer = customer_of(user)
    if customer is None:
        raise BillingError(gettext("There is nothing to manage yet: buy credits or a plan first."))
    session = as_data(
        get_client().v1.billing_portal.sessions.create(
            params={"customer": customer.stripe_id, "return_url": return_url}
        )
    )
    url: str = session["url"]
    return url


def monthly_amount(price: Price) -> Decimal:
    """What a plan costs per 30 days, to tell an upgrade from a downgrade."""
    days = INTERVAL_DAYS.get(price.interval, Decimal(30)) * (price.interval_count or 1)
    return Decimal(price.unit_amount or 0) * 30 / days


def is_upgrade(current: Price | None, new: Price) -> bool:
    """Whether moving from ``current`` to ``new`` is an upgrade: it costs more per month (or as
    much, for more credits). Any plan is an upgrade from none."""
    if current is None:
        return True
    return (monthly_amount(new), new.credits or 0) > (
        monthly_amount(current),
        current.credits or 0,
    )


@asks_stripe
def change_plan(user: Any, price_id: str) -> Subscription:
    """Move the user's plan to another price (see the module docstring for the terms)."""
    require_enabled()
    new = _price_on_sale(price_id)
    if new.kind != PriceKind.PLAN:
        raise PriceUnavailable(gettext("That price is not a plan."), details={"price": price_id})
    current = live_subscription(user)
    if current is None:
        raise SubscriptionConflict(gettext("You have no plan to change."))
    with transaction.atomic():
        locks.lock(current.stripe_id)
        data = fetch_subscription(current.stripe_id)
        item = plan_item(data or {})
        if data is None or item is None:
            raise SubscriptionConflict(gettext("Your plan could not be found at Stripe."))
        if ref(item.get("price")) == new.stripe_id:
            raise SubscriptionConflict(gettext("You are on that plan already."))
        upgrade = is_upgrade(current.price, new)
        params: SubscriptionUpdateParams = {"items": [{"id": item["id"], "price": new.stripe_id}]}
        if upgrade:
            params["proration_behavior"] = "always_invoice"
            params["billing_cycle_anchor"] = {"type": "now"}
            params["payment_behavior"] = "pending_if_incomplete"
        else:
            params["proration_behavior"] = "none"
        updated = get_client().v1.subscriptions.update(
            current.stripe_id,
            params=params,
            options={
                "idempotency_key": (
                    f"quickscale-plan-{current.stripe_id}-{ref(item.get('price'))}-{new.stripe_id}"
                )
            },
        )
        synced = sync_subscription(current.stripe_id, fetched=as_data(updated))
        assert synced is not None
        return synced


@asks_stripe
def set_cancel_at_period_end(user: Any, cancel: bool) -> Subscription:
    """Cancel the user's plan at the end of its period (``cancel=True``), or undo that."""
    require_enabled()
    current = live_subscription(user)
    if current is None:
        raise SubscriptionConflict(gettext("You have no plan."))
    with transaction.atomic():
        locks.lock(current.stripe_id)
        updated = get_client().v1.subscriptions.update(
            current.stripe_id, params={"cancel_at_period_end": cancel}
        )
        synced = sync_subscription(current.stripe_id, fetched=as_data(updated))
        assert synced is not None
        return synced


@dataclass(frozen=True)
class CheckoutStatus:
    """What the success page may say about a checkout: ``state`` is ``paid`` (credits added),
    ``failed`` (a pack's payment, or a plan's first invoice), ``processing`` (Stripe took the
    order; credits arrive with the webhook), ``pending`` (a payment still confirming),
    ``subscribed`` or ``subscribing``."""

    #: The states the webhook has yet to settle: the success page reloads itself.
    WAITING = ("processing", "subscribing", "pending")

    state: str
    session_id: str
    payment: Payment | None = None
    subscription: Subscription | None = None
    price: Price | None = None

    @property
    def waiting(self) -> bool:
        """Whether the webhook has yet to settle the checkout (the page reloads itself)."""
        return self.state in self.WAITING


@asks_stripe
def checkout_status(user: Any, session_id: str) -> CheckoutStatus | None:
    """The state of one of the user's checkout sessions, from our records and, for display
    only, from Stripe; ``None`` when the session is not the user's (or does not exist).
    Nothing is granted or recorded here."""
    import stripe

    if not is_stripe_id(session_id):
        return None
    payment = (
        Payment.objects.select_related("price__product")
        .filter(checkout_session_id=session_id)
        .first()
    )
    if payment is not None:
        if payment.user_id != user.pk:
            return None
        state = "failed" if payment.status == PaymentStatus.FAILED else "paid"
        return CheckoutStatus(state, session_id, payment=payment, price=payment.price)
    customer = customer_of(user)
    if customer is None or not session_id.startswith("cs_"):
        return None
    try:
        session = as_data(get_client().v1.checkout.sessions.retrieve(session_id))
    except stripe.InvalidRequestError:
        return None
    if ref(session.get("customer")) != customer.stripe_id:
        return None
    price = Price.objects.filter(
        stripe_id=(session.get("metadata") or {}).get(PRICE_KEY, "")
    ).first()
    if session.get("mode") == "subscription":
        subscription = Subscription.objects.filter(
            stripe_id=ref(session.get("subscription")) or ""
        ).first()
        if subscription is not None and subscription.is_live:
            state = "subscribed"
        elif (
            subscription is not None
            and subscription.payments.filter(status=PaymentStatus.FAILED).exists()
        ):
            # Its first invoice was not paid: the plan does not start.
            state = "failed"
        else:
            state = "subscribing"
        return CheckoutStatus(state, session_id, subscription=subscription, price=price)
    state = "processing" if session.get("payment_status") in PAID_CHECKOUT else "pending"
    return CheckoutStatus(state, session_id, price=price)

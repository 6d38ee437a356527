"""Checkout sessions: a paid pack checkout grants its credits, once; a subscription checkout
links the subscription, whose invoices grant the credits
(:mod:`~quickscale.billing.payments.invoices`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from quickscale.billing import locks
from quickscale.billing.catalog import ensure_price
from quickscale.billing.client import get_client
from quickscale.billing.customers import USER_KEY, user_by_id, user_for_customer
from quickscale.billing.exceptions import UnknownStripeObject
from quickscale.billing.models import Customer, Payment, PaymentKind, PaymentStatus, Price
from quickscale.billing.objects import Data, as_data, ref
from quickscale.billing.payments.common import (
    CREDITS_KEY,
    PAID_CHECKOUT,
    PRICE_KEY,
    ZERO,
    Outcome,
    announce,
    grant_key,
)
from quickscale.billing.subscriptions import sync_subscription
from quickscale.credits import ledger
from quickscale.credits.amounts import display, parse_amount, quantize

__all__ = ["record_checkout", "record_checkout_failure"]


def record_checkout(session: Data) -> Outcome:
    """Record a completed checkout session: a paid pack grants its credits (once); a
    subscription checkout links the subscription (its invoices grant the credits)."""
    session_id = session["id"]
    with transaction.atomic():
        locks.lock(session_id)
        if session.get("mode") == "subscription":
            subscription_id = ref(session.get("subscription"))
            if subscription_id is None:
                return Outcome(False, "subscription checkout without a subscription yet")
            sync_subscription(subscription_id)
            return Outcome(True, f"subscription {subscription_id} synced")
        if session.get("mode") != "payment":
            return Outcome(False, f"checkout mode {session.get('mode')!r} sells no credits")
        if session.get("payment_status") not in PAID_CHECKOUT:
            return Outcome(False, f"payment status is {session.get('payment_status')!r}")
        existing = Payment.objects.filter(checkout_session_id=session_id).first()
        if existing is not None and existing.status != PaymentStatus.FAILED:
            return Outcome(False, f"payment {existing.pk} was recorded already")
        user, customer = _buyer(session)
        price, credits = _pack(session)
        payment = existing or Payment(checkout_session_id=session_id)
        payment.user = user
        payment.customer = customer
        payment.kind = PaymentKind.PACK
        payment.status = PaymentStatus.PAID
        payment.price = price
        payment.payment_intent_id = ref(session.get("payment_intent")) or ""
        payment.amount = session.get("amount_total") or 0
        payment.currency = session.get("currency") or ""
        payment.credits = credits
        payment.failure_message = ""
        payment.paid_at = timezone.now()
        payment.save()
        if credits > 0:
            payment.grant_entry = ledger.grant(
                user,
                credits,
                source="purchase",
                expires_at=None,
                reason=f"Bought {price or 'credits'}",
                reference=grant_key(payment),
                metadata={"checkout_session": session_id, "payment": payment.pk},
                idempotency_key=grant_key(payment),
            )
            payment.save(update_fields=["grant_entry", "updated_at"])
        announce("billing.payment.succeeded", payment)
        return Outcome(True, f"payment {payment.pk}: {display(credits)} credits granted")


def record_checkout_failure(session: Data) -> Outcome:
    """An asynchronous payment (a bank debit) of a checkout session failed."""
    session_id = session["id"]
    with transaction.atomic():
        locks.lock(session_id)
        if session.get("mode") != "payment":
            return Outcome(False, "not a pack checkout")
        existing = Payment.objects.filter(checkout_session_id=session_id).first()
        if existing is not None:
            return Outcome(False, f"payment {existing.pk} is {existing.status} already")
        user, customer = _buyer(session)
        price, credits = _pack(session)
        payment = Payment.objects.create(
            user=user,
            customer=customer,
            kind=PaymentKind.PACK,
            status=PaymentStatus.FAILED,
            price=price,
            checkout_session_id=session_id,
            payment_intent_id=ref(session.get("payment_intent")) or "",
            amount=session.get("amount_total") or 0,
            currency=session.get("currency") or "",
            failure_message="The payment failed.",
        )
        announce("billing.payment.failed", payment, would_grant=display(credits))
        return Outcome(True, f"payment {payment.pk} failed")


def _buyer(session: Data) -> tuple[Any, Customer | None]:
    """The user a checkout session is for: its customer's user, which must agree with the user
    our metadata names (a mismatch is refused, never guessed)."""
    named = user_by_id(
        (session.get("metadata") or {}).get(USER_KEY) or session.get("client_reference_id")
    )
    customer_id = ref(session.get("customer"))
    if customer_id is None:
        if named is None:
            raise UnknownStripeObject(
                f"Checkout session {session['id']} names no customer and no user.",
                details={"checkout_session": session["id"]},
            )
        return named, None
    user = user_for_customer(customer_id)
    if named is not None and named.pk != user.pk:
        raise UnknownStripeObject(
            f"Checkout session {session['id']} is for user {named.pk} but its customer "
            f"{customer_id} belongs to user {user.pk}.",
            details={"checkout_session": session["id"]},
        )
    return user, Customer.objects.get(stripe_id=customer_id)


def _pack(session: Data) -> tuple[Price | None, Decimal]:
    """The price bought and the credits it grants: as our metadata recorded them when the
    session was made (what the buyer was shown), or else from the session's line items."""
    metadata = session.get("metadata") or {}
    price_id = metadata.get(PRICE_KEY)
    if price_id and metadata.get(CREDITS_KEY):
        return ensure_price(price_id), parse_amount(str(metadata[CREDITS_KEY]))
    items = as_data(
        get_client().v1.checkout.sessions.line_items.list(session["id"], params={"limit": 100})
    )
    price: Price | None = None
    credits = ZERO
    for item in items.get("data") or []:
        item_price_id = ref(item.get("price"))
        if item_price_id is None:
            continue
        found = ensure_price(item_price_id)
        price = price or found
        credits += (found.credits or ZERO) * (item.get("quantity") or 1)
    return price, quantize(credits)

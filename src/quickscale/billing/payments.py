"""Payments and refunds, and the credits they move.

Credits are granted only here, and only for what Stripe reports as paid: a checkout session
whose ``payment_status`` is ``paid`` (or ``no_payment_required``, a fully discounted order), or
a subscription invoice whose ``status`` is ``paid``. The data comes from a verified webhook or
from Stripe's API with our secret key, never from a browser.

Every grant carries an idempotency key derived from the Stripe object that paid for it
(``stripe:checkout:<session id>``, ``stripe:invoice:<invoice id>``), so the ledger grants once
per payment even if two deliveries race past every other check; each refund takes credits back
under ``stripe:refund:<refund id>`` and is stored once by its Stripe id.

Refunds take back the share of the credits the refunded amount paid for (all of them for a
full refund) with ``ledger.revoke``: first from what is left of the payment's grant, then from
the user's other available credits, never below zero. What could not be taken (it was spent) is
recorded as the shortfall, on the refund, the payment and the ledger entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from quickscale.billing import locks
from quickscale.billing.catalog import ensure_price
from quickscale.billing.client import get_client
from quickscale.billing.customers import USER_KEY, user_by_id, user_for_customer
from quickscale.billing.exceptions import UnknownStripeObject
from quickscale.billing.models import (
    Customer,
    Payment,
    PaymentKind,
    PaymentStatus,
    Price,
    Refund,
    RefundStatus,
)
from quickscale.billing.objects import Data, as_data, dig, moment, ref
from quickscale.billing.signals import billing_event
from quickscale.billing.subscriptions import ensure_subscription, sync_subscription
from quickscale.credits import ledger
from quickscale.credits.amounts import display, parse_amount, quantize

logger = logging.getLogger(__name__)

#: Checkout session metadata we set: the price bought and the credits shown to the buyer.
PRICE_KEY = "quickscale_price"
CREDITS_KEY = "quickscale_credits"
#: Checkout payment statuses that mean the order is paid for.
PAID_CHECKOUT = ("paid", "no_payment_required")
#: Refund statuses whose money goes (or went) back to the customer.
COUNTED_REFUNDS = (RefundStatus.SUCCEEDED, RefundStatus.PENDING)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    """What recording a Stripe object did, for the event's note."""

    done: bool
    note: str


def grant_key(payment: Payment) -> str:
    if payment.checkout_session_id:
        return f"stripe:checkout:{payment.checkout_session_id}"
    return f"stripe:invoice:{payment.invoice_id}"


def _announce(action: str, payment: Payment, **extra: Any) -> None:
    billing_event.send(
        sender=Payment,
        action=action,
        user=payment.user,
        target=payment,
        metadata={
            "payment": payment.pk,
            "checkout_session": payment.checkout_session_id,
            "invoice": payment.invoice_id,
            "payment_intent": payment.payment_intent_id or None,
            "amount": str(payment.amount),
            "currency": payment.currency,
            "credits": display(payment.credits),
            **extra,
        },
    )


# -- checkout sessions (credit packs) ----------------------------------------------------------


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
        _announce("billing.payment.succeeded", payment)
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
        _announce("billing.payment.failed", payment, would_grant=display(credits))
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


# -- invoices (subscription periods) -----------------------------------------------------------


def fetch_invoice(stripe_id: str) -> Data:
    return as_data(get_client().v1.invoices.retrieve(stripe_id))


def subscription_of_invoice(invoice: Data) -> str | None:
    return ref(dig(invoice, "parent.subscription_details.subscription")) or ref(
        invoice.get("subscription")
    )


def plan_line(invoice: Data) -> Data | None:
    """The invoice line charging a plan for a period (not a proration)."""
    for line in dig(invoice, "lines.data") or []:
        details = dig(line, "parent.subscription_item_details") or {}
        if details.get("proration") or dig(line, "pricing.price_details.price") is None:
            continue
        return dict(line)
    return None


def _line_price(line: Data | None) -> Price | None:
    price_id = ref(dig(line, "pricing.price_details.price"))
    return ensure_price(price_id) if price_id else None


def record_invoice(invoice: Data) -> Outcome:
    """Record a paid subscription invoice and grant the plan's credits for its period, expiring
    at the period's end (once per invoice)."""
    invoice_id = invoice["id"]
    subscription_id = subscription_of_invoice(invoice)
    if subscription_id is None:
        return Outcome(False, "not a subscription invoice")
    if invoice.get("status") != "paid":
        return Outcome(False, f"invoice status is {invoice.get('status')!r}")
    with transaction.atomic():
        locks.lock(invoice_id)
        existing = Payment.objects.filter(invoice_id=invoice_id).first()
        if existing is not None and existing.status != PaymentStatus.FAILED:
            return Outcome(False, f"payment {existing.pk} was recorded already")
        subscription = ensure_subscription(subscription_id)
        if subscription is None:
            raise UnknownStripeObject(f"Stripe has no subscription {subscription_id}.")
        line = plan_line(invoice)
        price = _line_price(line)
        quantity = (line or {}).get("quantity") or 1
        period_start = moment(dig(line, "period.start"))
        period_end = moment(dig(line, "period.end"))
        credits = quantize((price.credits or ZERO) * quantity) if price else ZERO
        note = ""
        if credits and (period_end is None or period_end <= timezone.now()):
            # Credits expiring in the past would be gone at once: none are granted.
            note = "the period was over when the payment was recorded; no credits granted"
            credits = ZERO
        payment = existing or Payment(invoice_id=invoice_id)
        payment.user = subscription.user
        payment.customer = subscription.customer
        payment.kind = PaymentKind.SUBSCRIPTION
        payment.status = PaymentStatus.PAID
        payment.price = price
        payment.subscription = subscription
        payment.amount = invoice.get("amount_paid") or 0
        payment.currency = invoice.get("currency") or ""
        payment.credits = credits
        payment.credits_expire_at = period_end if credits else None
        payment.period_start = period_start
        payment.period_end = period_end
        payment.failure_message = ""
        payment.paid_at = moment(dig(invoice, "status_transitions.paid_at")) or timezone.now()
        payment.save()
        if credits > 0:
            payment.grant_entry = ledger.grant(
                subscription.user,
                credits,
                source="subscription",
                expires_at=period_end,
                reason=f"{price} for the period ending {period_end:%Y-%m-%d}",
                reference=grant_key(payment),
                metadata={
                    "invoice": invoice_id,
                    "subscription": subscription_id,
                    "payment": payment.pk,
                },
                idempotency_key=grant_key(payment),
            )
            payment.save(update_fields=["grant_entry", "updated_at"])
        _announce("billing.payment.succeeded", payment, subscription=subscription_id)
        return Outcome(True, note or f"payment {payment.pk}: {display(credits)} credits granted")


def record_invoice_failure(invoice: Data) -> Outcome:
    """A subscription invoice's payment failed: record it (a later payment of the same invoice
    still grants) and bring the subscription's status up to date."""
    invoice_id = invoice["id"]
    subscription_id = subscription_of_invoice(invoice)
    if subscription_id is None:
        return Outcome(False, "not a subscription invoice")
    with transaction.atomic():
        locks.lock(invoice_id)
        subscription = sync_subscription(subscription_id)
        existing = Payment.objects.filter(invoice_id=invoice_id).first()
        if existing is not None:
            return Outcome(False, f"payment {existing.pk} is {existing.status} already")
        if subscription is None:
            raise UnknownStripeObject(f"Stripe has no subscription {subscription_id}.")
        line = plan_line(invoice)
        price = _line_price(line)
        attempts = invoice.get("attempt_count") or 1
        payment = Payment.objects.create(
            user=subscription.user,
            customer=subscription.customer,
            kind=PaymentKind.SUBSCRIPTION,
            status=PaymentStatus.FAILED,
            price=price,
            subscription=subscription,
            invoice_id=invoice_id,
            amount=invoice.get("amount_due") or 0,
            currency=invoice.get("currency") or "",
            period_start=moment(dig(line, "period.start")),
            period_end=moment(dig(line, "period.end")),
            failure_message=f"The payment failed (attempt {attempts}).",
        )
        _announce("billing.payment.failed", payment, subscription=subscription_id)
        return Outcome(True, f"payment {payment.pk} failed")


# -- refunds -----------------------------------------------------------------------------------


def fetch_charge(stripe_id: str) -> Data:
    return as_data(get_client().v1.charges.retrieve(stripe_id))


def payment_of_charge(charge: Data) -> Payment | None:
    """The payment a charge paid, asking Stripe which checkout session or invoice it belongs
    to when we have not recorded it (its own events have not arrived, or were missed); a paid
    one is recorded on the way, with its credits."""
    charge_id = charge["id"]
    intent_id = ref(charge.get("payment_intent"))
    found = _local_payment(charge_id, intent_id)
    if found is not None or intent_id is None:
        return found
    client = get_client()
    sessions = as_data(
        client.v1.checkout.sessions.list(params={"payment_intent": intent_id, "limit": 1})
    )
    for session in sessions.get("data") or []:
        record_checkout(session)
    if not sessions.get("data"):
        paid = as_data(
            client.v1.invoice_payments.list(
                params={"payment": {"type": "payment_intent", "payment_intent": intent_id}}
            )
        )
        for item in paid.get("data") or []:
            invoice_id = ref(item.get("invoice"))
            if invoice_id is None:
                continue
            invoice = fetch_invoice(invoice_id)
            record_invoice(invoice)
            Payment.objects.filter(invoice_id=invoice_id, payment_intent_id="").update(
                payment_intent_id=intent_id
            )
    return _local_payment(charge_id, intent_id)


def _local_payment(charge_id: str, intent_id: str | None) -> Payment | None:
    found = Payment.objects.filter(charge_id=charge_id).first()
    if found is None and intent_id:
        found = Payment.objects.filter(payment_intent_id=intent_id).first()
    return found


def record_refunds(charge_id: str) -> Outcome:
    """Record every refund of a charge we have not recorded yet, taking back its credits.

    The charge and its refunds are read from Stripe under the charge's lock, so deliveries in
    any order, or several at once, record each refund exactly once.
    """
    with transaction.atomic():
        locks.lock(charge_id)
        charge = fetch_charge(charge_id)
        payment = payment_of_charge(charge)
        if payment is None:
            return Outcome(False, f"charge {charge_id} paid for nothing of ours")
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if not payment.charge_id or not payment.payment_intent_id:
            payment.charge_id = charge_id
            payment.payment_intent_id = ref(charge.get("payment_intent")) or ""
        refunds = [
            as_data(refund)
            for refund in get_client()
            .v1.refunds.list(params={"charge": charge_id, "limit": 100})
            .auto_paging_iter()
        ]
        recorded = set(
            Refund.objects.filter(stripe_id__in=[r["id"] for r in refunds]).values_list(
                "stripe_id", flat=True
            )
        )
        new = []
        for refund in sorted(refunds, key=lambda r: (r.get("created") or 0, r["id"])):
            if refund["id"] in recorded or refund.get("status") not in COUNTED_REFUNDS:
                continue
            new.append(_take_back(payment, refund))
        counted = (
            payment.refunds.filter(status__in=COUNTED_REFUNDS).aggregate(total=Sum("amount"))[
                "total"
            ]
            or 0
        )
        payment.amount_refunded = min(counted, payment.amount)
        if payment.status != PaymentStatus.FAILED and payment.amount_refunded:
            payment.status = (
                PaymentStatus.REFUNDED
                if payment.amount_refunded >= payment.amount
                else PaymentStatus.PARTIALLY_REFUNDED
            )
        payment.save()
        if not new:
            return Outcome(False, f"the refunds of charge {charge_id} were recorded already")
        return Outcome(
            True,
            "; ".join(
                f"refund {r.stripe_id}: {display(r.credits_clawed_back)} credits taken back, "
                f"{display(r.credits_shortfall)} short"
                for r in new
            ),
        )


def _take_back(payment: Payment, refund: Data) -> Refund:
    """Record one refund of the (locked) payment and take back its share of the credits."""
    amount = refund.get("amount") or 0
    before = payment.refunds.filter(status__in=COUNTED_REFUNDS)
    refunded_before = before.aggregate(total=Sum("amount"))["total"] or 0
    credited_before = before.aggregate(total=Sum("credits"))["total"] or ZERO
    share = ZERO
    if payment.amount > 0 and payment.credits > 0:
        refunded = min(refunded_before + amount, payment.amount)
        share = quantize(payment.credits * refunded / payment.amount) - credited_before
    taken = shortfall = ZERO
    entry = None
    if share > 0 and payment.grant_entry is not None:
        result = ledger.revoke(
            payment.grant_entry,
            share,
            reason=f"Stripe refund {refund['id']} of {payment.stripe_reference}",
            metadata={"refund": refund["id"], "payment": payment.pk},
            idempotency_key=f"stripe:refund:{refund['id']}",
        )
        entry, taken, shortfall = result.entry, result.taken, result.shortfall
    created = Refund.objects.create(
        stripe_id=refund["id"],
        payment=payment,
        amount=amount,
        currency=refund.get("currency") or payment.currency,
        status=refund.get("status") or RefundStatus.SUCCEEDED,
        credits=max(share, ZERO),
        credits_clawed_back=taken,
        credits_shortfall=shortfall,
        ledger_entry=entry,
        stripe_created=moment(refund.get("created")) or timezone.now(),
    )
    payment.credits_clawed_back += taken
    payment.credits_shortfall += shortfall
    if shortfall:
        logger.warning(
            "Refund %s of %s: %s credits were spent already and could not be taken back.",
            refund["id"],
            payment.stripe_reference,
            display(shortfall),
        )
    billing_event.send(
        sender=Refund,
        action="billing.refund.recorded",
        user=payment.user,
        target=created,
        metadata={
            "refund": refund["id"],
            "payment": payment.pk,
            "amount": str(amount),
            "currency": created.currency,
            "credits": display(created.credits),
            "credits_clawed_back": display(taken),
            "credits_shortfall": display(shortfall),
        },
    )
    return created

"""Refunds, as Stripe reports them on a charge, and the credits they take back.

Whoever made the refund (staff through :func:`quickscale.billing.refunds.refund`, or someone in
the Stripe dashboard), its ``charge.refunded`` event brings it here. Each refund is recorded
once by its Stripe id and takes back its share of the payment's credits with
``ledger.revoke``; what was spent already is recorded as the shortfall.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from quickscale.billing import locks
from quickscale.billing.client import get_client
from quickscale.billing.models import Payment, PaymentStatus, Refund, RefundStatus
from quickscale.billing.objects import Data, as_data, moment, ref
from quickscale.billing.payments.checkout_sessions import record_checkout
from quickscale.billing.payments.common import COUNTED_REFUNDS, ZERO, Outcome
from quickscale.billing.payments.invoices import fetch_invoice, record_invoice
from quickscale.billing.signals import billing_event
from quickscale.credits import ledger
from quickscale.credits.amounts import display, quantize

__all__ = ["fetch_charge", "payment_of_charge", "record_refunds"]

logger = logging.getLogger(__name__)


def fetch_charge(stripe_id: str) -> Data:
    """The charge as Stripe has it now."""
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
    """The payment recorded for the charge, or else for its payment intent."""
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

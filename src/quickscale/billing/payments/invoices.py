"""Subscription invoices: a paid one grants the plan's credits for its period, expiring at the
period's end (once per invoice); a failed one is recorded and brings the subscription's status
up to date."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from quickscale.billing import locks
from quickscale.billing.catalog import ensure_price
from quickscale.billing.client import get_client
from quickscale.billing.exceptions import UnknownStripeObject
from quickscale.billing.models import Payment, PaymentKind, PaymentStatus, Price
from quickscale.billing.objects import Data, as_data, dig, moment, ref
from quickscale.billing.payments.common import ZERO, Outcome, announce, grant_key
from quickscale.billing.subscriptions import ensure_subscription, sync_subscription
from quickscale.credits import ledger
from quickscale.credits.amounts import display, quantize

__all__ = [
    "fetch_invoice",
    "plan_line",
    "record_invoice",
    "record_invoice_failure",
    "subscription_of_invoice",
]


def fetch_invoice(stripe_id: str) -> Data:
    """The invoice as Stripe has it now."""
    return as_data(get_client().v1.invoices.retrieve(stripe_id))


def subscription_of_invoice(invoice: Data) -> str | None:
    """The id of the subscription an invoice bills, or ``None`` for an invoice of no
    subscription."""
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
        announce("billing.payment.succeeded", payment, subscription=subscription_id)
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
        announce("billing.payment.failed", payment, subscription=subscription_id)
        return Outcome(True, f"payment {payment.pk} failed")

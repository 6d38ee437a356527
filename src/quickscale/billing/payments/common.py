"""What recording payments and refunds shares: the outcome it reports, the idempotency key of a
payment's grant, and the metadata and statuses it reads."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quickscale.billing.models import Payment, RefundStatus
from quickscale.billing.signals import billing_event
from quickscale.credits.amounts import display

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
    """The idempotency key (and reference) of the payment's grant: one grant per checkout
    session or invoice."""
    if payment.checkout_session_id:
        return f"stripe:checkout:{payment.checkout_session_id}"
    return f"stripe:invoice:{payment.invoice_id}"


def announce(action: str, payment: Payment, **extra: Any) -> None:
    """Send ``billing_event`` about a payment (``billing.payment.succeeded``, ``...failed``)."""
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

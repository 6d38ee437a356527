"""Refunds started from this site (by staff), made through Stripe.

:func:`refund` asks Stripe to refund a payment, fully or in part, and announces the request;
it does not touch the credits. They are taken back when Stripe's ``charge.refunded`` arrives
and :func:`quickscale.billing.payments.record_refunds` records the refund, as for a refund made
in the Stripe dashboard, so a refund takes credits back once whichever way it was made. (The
payment sandbox delivers that event as soon as the refund is committed.)

A form sends a token of its own as the idempotency key: submitting it twice (a double click,
a reload) makes one refund, since Stripe answers a repeated key with the first refund.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext

from quickscale.billing.client import get_client, require_enabled
from quickscale.billing.exceptions import RefundRefused
from quickscale.billing.models import Payment, PaymentStatus, format_money
from quickscale.billing.objects import as_data, ref, unavailable
from quickscale.billing.signals import billing_event
from quickscale.core.context import context

if TYPE_CHECKING:
    from stripe.params import RefundCreateParams

__all__ = ["REFUNDABLE", "RefundRequest", "refund", "refundable_amount"]

logger = logging.getLogger(__name__)

#: Payment statuses that can still be refunded.
REFUNDABLE = (PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED)
#: Metadata keys set on the Stripe refund.
PAYMENT_KEY = "quickscale_payment"
REQUESTED_BY_KEY = "quickscale_requested_by"
REASON_KEY = "quickscale_reason"


@dataclass(frozen=True)
class RefundRequest:
    """The refund Stripe made: its id, amount (minor units) and status. Its credits are taken
    back when its ``charge.refunded`` event is processed."""

    stripe_id: str
    payment: Payment
    amount: int
    currency: str
    status: str
    #: Stripe answered an earlier request with the same idempotency key: no new refund.
    repeated: bool = False


def refundable_amount(payment: Payment) -> int:
    """What is left to refund of a payment, in the currency's minor units."""
    return max(payment.amount - payment.amount_refunded, 0)


def refund(
    payment: Payment,
    amount: int | None = None,
    *,
    actor: Any = None,
    reason: str = "",
    idempotency_key: str | None = None,
) -> RefundRequest:
    """Ask Stripe to refund ``amount`` (in the currency's minor units; all that is left when
    ``None``) of ``payment``.

    Refused with ``RefundRefused``, changing nothing, when the payment is not paid (or
    partially refunded) through a charge, or the amount is not between 1 and what is left to
    refund (``code``: ``refund_not_refundable``, ``refund_amount_invalid``). A Stripe failure
    raises ``StripeUnavailable``. ``actor`` (the staff member asking) is recorded with the
    ``billing.refund.requested`` event; ``reason`` goes into the refund's metadata.
    """
    import stripe

    require_enabled()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().select_related("user").get(pk=payment.pk)
        left = refundable_amount(payment)
        _check(payment, amount, left)
        value = left if amount is None else amount
        params: RefundCreateParams = {
            "amount": value,
            "metadata": {
                PAYMENT_KEY: str(payment.pk),
                REQUESTED_BY_KEY: str(getattr(actor, "pk", "") or ""),
                REASON_KEY: reason[:500],
            },
        }
        try:
            # The payment intent whenever it is known, so a repeated request (the same form
            # sent again after the first refund recorded the charge) has the same parameters.
            if payment.payment_intent_id or not payment.charge_id:
                params["payment_intent"] = payment.payment_intent_id or _invoice_intent(payment)
            else:
                params["charge"] = payment.charge_id
            answer = get_client().v1.refunds.create(
                params=params,
                options={"idempotency_key": idempotency_key} if idempotency_key else {},
            )
        except stripe.StripeError as error:
            logger.warning("Stripe refused a refund of payment %s: %s", payment.pk, error)
            raise unavailable(error) from error
        created = as_data(answer)
        request = RefundRequest(
            stripe_id=created["id"],
            payment=payment,
            amount=created.get("amount") or value,
            currency=created.get("currency") or payment.currency,
            status=created.get("status") or "",
            repeated=_replayed(answer),
        )
        if request.repeated:
            # The same form submitted again: Stripe answered with the first refund, which was
            # announced then.
            return request
        with context(actor=actor) if actor is not None else nullcontext():
            billing_event.send(
                sender=Payment,
                action="billing.refund.requested",
                user=payment.user,
                target=payment,
                metadata={
                    "refund": request.stripe_id,
                    "payment": payment.pk,
                    "charge": ref(created.get("charge")),
                    "amount": str(request.amount),
                    "amount_display": format_money(request.amount, request.currency),
                    "currency": request.currency,
                    "status": request.status,
                    "reason": reason,
                    "requested_by": getattr(actor, "pk", None),
                },
            )
    return request


def _replayed(answer: Any) -> bool:
    """Whether Stripe's answer repeats the first answer to the idempotency key."""
    response = getattr(answer, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    return any(
        name.lower() == "idempotent-replayed" and str(value).lower() == "true"
        for name, value in headers.items()
    )


def _check(payment: Payment, amount: int | None, left: int) -> None:
    def refused(message: str, **values: object) -> RefundRefused:
        return RefundRefused(
            message % {"payment": payment.pk, **values},
            code="refund_not_refundable",
            details={"payment": payment.pk, "status": payment.status},
        )

    if payment.status == PaymentStatus.REFUNDED or (payment.status in REFUNDABLE and left <= 0):
        raise refused(gettext("Payment %(payment)s has been refunded in full already."))
    if payment.status not in REFUNDABLE:
        raise refused(
            gettext("Payment %(payment)s cannot be refunded: it is %(status)s, not paid."),
            status=payment.get_status_display(),
        )
    if not (payment.charge_id or payment.payment_intent_id or payment.invoice_id):
        raise refused(
            gettext("Payment %(payment)s cannot be refunded: it has no charge at Stripe.")
        )
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= left
    ):
        shown = format_money(amount, payment.currency) if isinstance(amount, int) else repr(amount)
        raise RefundRefused(
            gettext(
                "A refund of %(amount)s is not possible: it must be more than 0 and at most "
                "%(left)s, what is left to refund of %(total)s."
            )
            % {
                "amount": shown,
                "left": format_money(left, payment.currency),
                "total": payment.amount_display,
            },
            code="refund_amount_invalid",
            details={
                "payment": payment.pk,
                "amount": amount,
                "refundable": left,
                "field": "amount",
            },
        )


def _invoice_intent(payment: Payment) -> str:
    """The payment intent that paid a subscription invoice (asked of Stripe: a paid invoice's
    payment is only recorded here once a refund of it arrives)."""
    paid = as_data(
        get_client().v1.invoice_payments.list(
            params={"invoice": payment.invoice_id or "", "status": "paid", "limit": 1}
        )
    )
    for item in paid.get("data") or []:
        intent = ref((item.get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    raise RefundRefused(
        f"Payment {payment.pk} cannot be refunded: Stripe has no paid charge for invoice "
        f"{payment.invoice_id}.",
        code="refund_not_refundable",
        details={"payment": payment.pk},
    )

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

Import from here; the work is split by what Stripe reports:

- :mod:`~quickscale.billing.payments.checkout_sessions`: completed (or failed) checkout
  sessions, which pay for packs;
- :mod:`~quickscale.billing.payments.invoices`: paid (or failed) subscription invoices, which
  pay for a plan's period;
- :mod:`~quickscale.billing.payments.clawbacks`: the refunds of a charge, and the credits they
  take back;
- :mod:`~quickscale.billing.payments.common`: what they share (the outcome of recording, the
  grant's idempotency key, the metadata keys).
"""

from __future__ import annotations

from quickscale.billing.payments.checkout_sessions import record_checkout, record_checkout_failure
from quickscale.billing.payments.clawbacks import fetch_charge, payment_of_charge, record_refunds
from quickscale.billing.payments.common import (
    COUNTED_REFUNDS,
    CREDITS_KEY,
    PAID_CHECKOUT,
    PRICE_KEY,
    ZERO,
    Outcome,
    grant_key,
)
from quickscale.billing.payments.invoices import (
    fetch_invoice,
    plan_line,
    record_invoice,
    record_invoice_failure,
    subscription_of_invoice,
)

__all__ = [
    "COUNTED_REFUNDS",
    "CREDITS_KEY",
    "PAID_CHECKOUT",
    "PRICE_KEY",
    "ZERO",
    "Outcome",
    "fetch_charge",
    "fetch_invoice",
    "grant_key",
    "payment_of_charge",
    "plan_line",
    "record_checkout",
    "record_checkout_failure",
    "record_invoice",
    "record_invoice_failure",
    "record_refunds",
    "subscription_of_invoice",
]

"""Signals sent by ``quickscale.billing``.

``billing_event`` is sent inside the transaction that records a billing change (a payment, a
refund, a subscription change, a catalog change), so a receiver that writes rows (the audit log)
commits or rolls back with it. Keyword arguments:

``action``
    dotted name, e.g. ``billing.payment.succeeded``, ``billing.refund.recorded``,
    ``billing.subscription.updated``, ``billing.catalog.changed``.
``user``
    the user the change belongs to, or ``None`` for catalog changes.
``target``
    the model instance that changed (a payment, a subscription, a price).
``metadata``
    a JSON-serialisable dict (Stripe ids, amounts as strings, credits granted).
"""

from __future__ import annotations

from django.dispatch import Signal

billing_event = Signal()

"""Signals sent after the transaction that wrote a ledger entry commits.

Receivers get ``sender=CreditTransaction``, ``transaction`` (the entry) and ``account``. They
run only for new entries: replaying a call with its idempotency key sends nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

credits_granted = Signal()
credits_debited = Signal()
credits_held = Signal()
credits_captured = Signal()
credits_released = Signal()
credits_expired = Signal()
credits_refunded = Signal()
credits_adjusted = Signal()

BY_KIND = {
    "grant": credits_granted,
    "debit": credits_debited,
    "hold": credits_held,
    "capture": credits_captured,
    "release": credits_released,
    "expire": credits_expired,
    "refund": credits_refunded,
    "adjustment": credits_adjusted,
}

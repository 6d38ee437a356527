"""Signals of the credit ledger.

``ledger_entry_written`` is sent **inside** the transaction that writes each ledger entry, every
kind included (``allocation`` bookkeeping too), with ``sender=CreditTransaction``, ``entry`` and
``account`` (locked, with its new totals). A receiver that writes rows (the audit log) commits or
rolls back with the entry; one that raises rolls the write back. It is sent only when a
receiver is connected.

What the ledger announces to the rest of the site (the audit log) goes through the one core
event, :data:`quickscale.core.events.event` (see :mod:`quickscale.credits.events`).

The others are sent after the transaction that wrote a ledger entry commits. Receivers get
``sender=CreditTransaction``, ``transaction`` (the entry) and ``account``. They run only for
new entries: replaying a call with its idempotency key sends nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

ledger_entry_written = Signal()

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

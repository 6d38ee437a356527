"""Signals of the credit ledger.

``ledger_entry_written`` is sent **inside** the transaction that writes each ledger entry, every
kind included (``allocation`` bookkeeping too), with ``sender=CreditTransaction``, ``entry`` and
``account`` (locked, with its new totals). A receiver that writes rows (the audit log) commits or
rolls back with the entry; one that raises rolls the write back. It is sent only when a
receiver is connected, so the debit path pays nothing for it otherwise.

``ledger_entry_writing`` is sent on PostgreSQL just **before** each ledger entry is written,
with ``sender=CreditTransaction`` and ``entry``, a :class:`~quickscale.credits.ledger.PendingEntry`.
A receiver that must write a row with every entry calls ``entry.write_with(sql, params)``: the
row is then written by the entry's own statement, reading the new entry from the common table
expression ``quickscale_entry``, so it costs no round trip and needs no transaction. It is
sent only when a receiver is connected.

The others are sent after the transaction that wrote a ledger entry commits. Receivers get
``sender=CreditTransaction``, ``transaction`` (the entry) and ``account``. They run only for
new entries: replaying a call with its idempotency key sends nothing.
"""

from __future__ import annotations

from django.dispatch import Signal

ledger_entry_written = Signal()
ledger_entry_writing = Signal()

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

"""Serialising the work on one Stripe object across processes.

Everything that changes our copy of a Stripe object (a subscription, a payment, a price) first
locks that object's id, then reads it (from Stripe where order matters) and writes. Two
deliveries about the same object therefore run one after the other, and the second sees what
the first wrote, so the last one to run applies Stripe's newest state.

On PostgreSQL the locks are transaction-level advisory locks (released at commit or rollback,
safe behind PgBouncer's transaction pooling), so they work before the object has a row. Other
databases run one writing transaction at a time already (SQLite); there they are no-ops.

Lock order, to rule out deadlocks: a charge, then a checkout session or invoice, then a
subscription or customer, then a price, then a product; the ledger's account rows always last.
"""

from __future__ import annotations

import hashlib

from django.db import connection

NAMESPACE = b"quickscale.billing:"


def key(stripe_id: str) -> int:
    """A signed 64-bit number for ``stripe_id``, as ``pg_advisory_xact_lock`` takes."""
    digest = hashlib.blake2b(NAMESPACE + stripe_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock(stripe_id: str) -> None:
    """Hold the lock on ``stripe_id`` until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("Stripe object locks are taken inside a transaction.")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key(stripe_id)])

"""The credit ledger's public operations: the only code that writes the credit tables.

Import from here (``from quickscale.credits import ledger``); the modules behind it are:

- :mod:`.reads`: balances, grants, statements (no locks, no writes);
- :mod:`.debit`: :func:`debit`, the hot path, and :func:`lock_available`;
- :mod:`.operations`: grant, hold, capture, release, refund, adjust, revoke;
- :mod:`.sweeps`: expiring grants and releasing holds that ran out;
- :mod:`.verify`: checking every invariant;
- :mod:`.asynchronous`: the async twins of the public operations (``adebit``, ``agrant``,
  ``abalance``...), each the synchronous function run through ``sync_to_async``;
- :mod:`.writing`, :mod:`.allocation` and :mod:`.arguments`: what the writes share (the
  account lock, idempotency, the entry; which grants credits come from; argument checks).

Every write locks the owner's account row, changes the stored balance and appends the
``CreditTransaction`` that explains it in one database transaction, and accepts an
``idempotency_key``: calling again with the same key returns the first result.
"""

from __future__ import annotations

from quickscale.credits.ledger.arguments import check_idempotency_key
from quickscale.credits.ledger.asynchronous import (
    aadjust,
    abalance,
    abreakdown,
    acapture,
    adebit,
    aexpire_due,
    aget_account,
    agrant,
    agrants,
    ahold,
    arefund,
    arelease,
    arelease_expired_holds,
    arevoke,
    astatement,
    asweep,
    averify,
)
from quickscale.credits.ledger.debit import debit, lock_available
from quickscale.credits.ledger.operations import (
    Revocation,
    adjust,
    capture,
    grant,
    hold,
    refund,
    release,
    revoke,
)
from quickscale.credits.ledger.reads import (
    Balance,
    GrantBalance,
    Page,
    balance,
    breakdown,
    get_account,
    grants,
    statement,
)
from quickscale.credits.ledger.sweeps import expire_due, release_expired_holds, sweep
from quickscale.credits.ledger.verify import Problem, verify
from quickscale.credits.ledger.writing import insufficient_credits

__all__ = [
    "Balance",
    "GrantBalance",
    "Page",
    "Problem",
    "Revocation",
    "aadjust",
    "abalance",
    "abreakdown",
    "acapture",
    "adebit",
    "adjust",
    "aexpire_due",
    "aget_account",
    "agrant",
    "agrants",
    "ahold",
    "arefund",
    "arelease",
    "arelease_expired_holds",
    "arevoke",
    "astatement",
    "asweep",
    "averify",
    "balance",
    "breakdown",
    "capture",
    "check_idempotency_key",
    "debit",
    "expire_due",
    "get_account",
    "grant",
    "grants",
    "hold",
    "insufficient_credits",
    "lock_available",
    "refund",
    "release",
    "release_expired_holds",
    "revoke",
    "statement",
    "sweep",
    "verify",
]

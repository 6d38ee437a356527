"""The ledger's async entry points, for ``async def`` views, consumers and tasks.

Each public operation has an async twin named with Django's ``a`` prefix (as ``QuerySet.aget``
is to ``get``): :func:`adebit`, :func:`agrant`, :func:`abalance`... They are made here, in one
place, by core's :func:`~quickscale.core.asynchronous.to_async`, and are not a second
implementation: each runs the synchronous function in a thread through ``asgiref``'s
``sync_to_async(..., thread_sensitive=True)``, the way Django runs the ORM for async code. So
an async call takes the same arguments, returns the same result, raises the same exceptions
(``InsufficientCredits``, ``InvalidOperation``...) and has the same effect as the synchronous
call, idempotency keys included.

Each call is one transaction of its own: Django has no async ``atomic()``. Work that must commit
together with a ledger write (say, a row recording what a debit paid for) goes into one
synchronous function, wrapped as a whole with ``sync_to_async``. ``lock_available`` has no async
twin for that reason: the lock it takes lasts only as long as its caller's transaction.
"""

from __future__ import annotations

from quickscale.core.asynchronous import to_async
from quickscale.credits.ledger.debit import debit
from quickscale.credits.ledger.operations import (
    adjust,
    capture,
    grant,
    hold,
    refund,
    release,
    revoke,
)
from quickscale.credits.ledger.reads import balance, breakdown, get_account, grants, statement
from quickscale.credits.ledger.sweeps import expire_due, release_expired_holds, sweep
from quickscale.credits.ledger.verify import verify

adebit = to_async(debit)
agrant = to_async(grant)
ahold = to_async(hold)
acapture = to_async(capture)
arelease = to_async(release)
arefund = to_async(refund)
aadjust = to_async(adjust)
arevoke = to_async(revoke)
abalance = to_async(balance)
abreakdown = to_async(breakdown)
aget_account = to_async(get_account)
agrants = to_async(grants)
astatement = to_async(statement)
aexpire_due = to_async(expire_due)
arelease_expired_holds = to_async(release_expired_holds)
asweep = to_async(sweep)
averify = to_async(verify)

__all__ = [
    "aadjust",
    "abalance",
    "abreakdown",
    "acapture",
    "adebit",
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
]

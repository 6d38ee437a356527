"""The ledger's async entry points, for ``async def`` views, consumers and tasks.

Each public operation has an async twin named with Django's ``a`` prefix (as ``QuerySet.aget``
is to ``get``): :func:`adebit`, :func:`agrant`, :func:`abalance`... They are made here, in one
place, by :func:`to_async`, and are not a second implementation: each runs the synchronous
function in a thread through ``asgiref``'s ``sync_to_async(..., thread_sensitive=True)``, the
way Django runs the ORM for async code. So an async call takes the same arguments, returns the
same result, raises the same exceptions (``InsufficientCredits``, ``InvalidOperation``...) and
has the same effect as the synchronous call, idempotency keys included.

Each call is one transaction of its own: Django has no async ``atomic()``. Work that must commit
together with a ledger write (say, a row recording what a debit paid for) goes into one
synchronous function, wrapped as a whole with ``sync_to_async``. ``lock_available`` has no async
twin for that reason: the lock it takes lasts only as long as its caller's transaction.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import sync_to_async

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

P = ParamSpec("P")
R = TypeVar("R")


def to_async(function: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The async twin of ``function``: a coroutine function named ``a<name>``, with the same
    signature, that runs ``function`` through ``sync_to_async(thread_sensitive=True)``.

    Thread-sensitive code runs in one thread per request under Django's ASGI handler (and in the
    calling thread under ``async_to_sync``), so the database connection it uses is the one the
    rest of the request's synchronous code uses. A ``progress`` callback or other callable
    argument is called in that thread, synchronously.
    """
    call = sync_to_async(function, thread_sensitive=True)

    @functools.wraps(function)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await call(*args, **kwargs)

    run.__name__ = run.__qualname__ = f"a{function.__name__}"
    run.__doc__ = (
        f"Async :func:`{function.__name__}`: the same arguments, result, exceptions and effect; "
        f"``{function.__name__}`` runs in a thread through "
        f"``sync_to_async(thread_sensitive=True)``.\n\n{inspect.cleandoc(function.__doc__ or '')}"
    )
    return run


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
    "to_async",
]

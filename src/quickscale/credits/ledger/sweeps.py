"""The periodic work of the ledger: expiring grants and releasing holds that ran out.

Each account (or hold) is handled in a transaction of its own, so a long sweep never holds many
locks and can be stopped and run again at any point.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone

from quickscale.credits.exceptions import InvalidOperation
from quickscale.credits.ledger.arguments import Owner, owner_id
from quickscale.credits.ledger.operations import settle
from quickscale.credits.ledger.writing import atomic, expire_account, lock_account
from quickscale.credits.models import CreditAccount, CreditHold, HoldState

#: ``progress(done, total)``, called after each account or hold.
Progress = Callable[[int, int], None]


def expire_due(
    *, now: datetime | None = None, owner: Owner = None, progress: Progress | None = None
) -> int:
    """Expire every grant whose ``expires_at`` has passed; returns how many grants expired.

    One transaction per account, so a long sweep never holds many locks and can be stopped
    and run again at any point. ``progress(done, total)`` is called after each account.
    """
    now = now or timezone.now()
    due = CreditAccount.objects.filter(next_expiry__lte=now)
    if owner is not None:
        due = due.filter(owner_id=owner_id(owner))
    owners = list(due.order_by("id").values_list("owner_id", flat=True))
    expired = 0
    for done, key in enumerate(owners, start=1):
        with atomic():
            account, _ = lock_account(key)
            if account is not None:
                expired += expire_account(account, now)
        if progress is not None:
            progress(done, len(owners))
    return expired


def release_expired_holds(*, now: datetime | None = None, progress: Progress | None = None) -> int:
    """Release every active hold past its ``expires_at`` (work that crashed or timed out)."""
    now = now or timezone.now()
    due = list(
        CreditHold.objects.filter(state=HoldState.ACTIVE, expires_at__lte=now)
        .order_by("id")
        .values_list("id", flat=True)
    )
    released = 0
    for done, hold_id in enumerate(due, start=1):
        reservation = CreditHold.objects.get(pk=hold_id)
        try:
            settle(reservation, captured=None, state=HoldState.EXPIRED, reason="hold expired")
        except InvalidOperation:
            pass  # settled by its owner since the list was read: nothing left to release
        else:
            released += 1
        if progress is not None:
            progress(done, len(due))
    return released


# -- verification ---------------------------------------------------------------------------


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Expire due grants and release expired holds; what the periodic task runs."""
    now = now or timezone.now()
    return {"expired_grants": expire_due(now=now), "released_holds": release_expired_holds(now=now)}

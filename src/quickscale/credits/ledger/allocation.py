"""Which grants credits come from, and go back to.

Credits are consumed from grants in order: higher ``priority`` first, then the earliest
expiry, then the oldest grant. Every function here but :func:`live_grants` runs under the
account's lock, which its caller holds.

Arithmetic is done in Python on ``Decimal``: SQLite would do it in floating point.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db.models import F, Q

from quickscale.credits.amounts import quantize
from quickscale.credits.exceptions import LedgerCorrupted
from quickscale.credits.models import CreditAccount, CreditGrant, CreditHold

ZERO = Decimal(0)
#: ``(grant id, credits)`` pairs.
Allocations = list[tuple[int, Decimal]]
#: The order in which grants are spent.
GRANT_ORDER = (F("priority").desc(), F("expires_at").asc(nulls_last=True), F("id").asc())


def live_grants(
    account_id: int, unallocated: Decimal
) -> list[tuple[str, datetime | None, Decimal]]:
    """``(source, expires_at, credits left)`` of the account's grants in consumption order, as
    they will be once ``unallocated`` is taken from them."""
    rows = (
        CreditGrant.objects.filter(account_id=account_id, remaining__gt=0)
        .order_by(*GRANT_ORDER)
        .values_list("source", "expires_at", "remaining")
    )
    live = []
    pending = unallocated
    for source, expires_at, remaining in rows:
        take = min(remaining, pending)
        pending -= take
        live.append((source, expires_at, remaining - take))
    return live


def take_from_grants(
    account: CreditAccount, amount: Decimal, now: datetime, *, include_due: bool = False
) -> Allocations:
    """Take ``amount`` from the locked account's grants in consumption order (grants past
    their expiry only with ``include_due``)."""
    grants = CreditGrant.objects.filter(account_id=account.pk, remaining__gt=0)
    if not include_due:
        grants = grants.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    taken: Allocations = []
    left = amount
    for grant_id, remaining in grants.order_by(*GRANT_ORDER).values_list("id", "remaining"):
        take = min(quantize(remaining), left)
        CreditGrant.objects.filter(pk=grant_id).update(remaining=quantize(remaining) - take)
        taken.append((grant_id, take))
        left -= take
        if left == 0:
            return taken
    raise LedgerCorrupted(
        f"The grants of account {account.pk} hold less than its balance says; "
        "run manage.py credits verify."
    )


def return_to_grants(allocations: Iterable[tuple[int, Decimal]]) -> None:
    """Give credits back to the grants they were taken from."""
    # Read, add in Python, write: the account lock the caller holds keeps the read current.
    for grant_id, amount in allocations:
        remaining = (
            CreditGrant.objects.filter(pk=grant_id).values_list("remaining", flat=True).get()
        )
        CreditGrant.objects.filter(pk=grant_id).update(remaining=quantize(remaining + amount))


def spent(allocations: Allocations) -> Allocations:
    """Allocations as recorded on an entry: the change of each grant's remaining credits."""
    return [(grant_id, -value) for grant_id, value in allocations]


def uncaptured(allocations: Allocations, keep: Decimal) -> Allocations:
    """The part of a hold's allocations that a capture of ``keep`` gives back to the grants.

    The kept part is the one taken first (the highest-priority, soonest-expiring grants).
    """
    returned: Allocations = []
    left = keep
    for grant_id, amount in allocations:
        use = min(amount, left)
        left -= use
        if amount - use:
            returned.append((grant_id, amount - use))
    return returned


def hold_allocations(reservation: CreditHold) -> Allocations:
    """The grants a hold took its credits from, as stored on it."""
    return [(int(grant_id), Decimal(value)) for grant_id, value in reservation.allocations]

"""Reading the ledger: balances, grants, statements. Nothing here writes or locks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from quickscale.credits.amounts import quantize
from quickscale.credits.exceptions import InvalidArgument
from quickscale.credits.ledger.allocation import ZERO, live_grants
from quickscale.credits.ledger.arguments import Owner, owner_id
from quickscale.credits.models import CreditAccount, CreditTransaction, TransactionKind


@dataclass(frozen=True)
class Balance:
    """An account's credits: ``available`` = ``balance`` - ``held``."""

    balance: Decimal
    held: Decimal
    available: Decimal


@dataclass(frozen=True)
class GrantBalance:
    """What is left of one grant."""

    source: str
    remaining: Decimal
    expires_at: datetime | None


@dataclass(frozen=True)
class Page:
    """One page of a statement, newest first; pass ``next_cursor`` as ``before`` for more."""

    items: list[CreditTransaction]
    next_cursor: int | None


def get_account(owner: Owner, *, create: bool = False) -> CreditAccount | None:
    """The owner's account; with ``create=True`` it is created when missing."""
    key = owner_id(owner)
    if not create:
        return CreditAccount.objects.filter(owner_id=key).first()
    account, _ = CreditAccount.objects.get_or_create(owner_id=key)
    return account


def balance(owner: Owner) -> Balance:
    """The owner's balance, read from the stored row: one indexed query whatever the history.

    Credits of grants that are past their expiry but not yet swept are not counted (finding
    them costs a second query, only once such a grant exists).
    """
    row = (
        CreditAccount.objects.filter(owner_id=owner_id(owner))
        .values_list("id", "balance", "held", "unallocated", "next_expiry")
        .first()
    )
    if row is None:
        return Balance(ZERO, ZERO, ZERO)
    account_id, stored, held, unallocated, next_expiry = row
    now = timezone.now()
    due = ZERO
    if next_expiry is not None and next_expiry <= now:
        due = sum(
            (
                left
                for _, expires_at, left in live_grants(account_id, unallocated)
                if expires_at is not None and expires_at <= now
            ),
            ZERO,
        )
    current = quantize(stored - due)
    held = quantize(held)
    return Balance(current, held, current - held)


def grants(owner: Owner) -> list[GrantBalance]:
    """The owner's unexpired credits grant by grant, in the order they will be spent (held
    credits are not included)."""
    account = CreditAccount.objects.filter(owner_id=owner_id(owner)).first()
    if account is None:
        return []
    now = timezone.now()
    return [
        GrantBalance(source, quantize(left), expires_at)
        for source, expires_at, left in live_grants(account.id, account.unallocated)
        if left and (expires_at is None or expires_at > now)
    ]


def breakdown(owner: Owner) -> dict[str, Decimal]:
    """Unexpired credits left per grant source (held credits are not included)."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for grant in grants(owner):
        totals[grant.source] += grant.remaining
    return {source: totals[source] for source in sorted(totals)}


def statement(owner: Owner, *, before: int | None = None, limit: int = 50) -> Page:
    """The owner's ledger entries, newest first, ``limit`` at a time (keyset pagination).

    Bookkeeping ``allocation`` entries are left out: they change no balance.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit must be an integer from 1 to 1000, not {limit!r}.")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
        raise InvalidArgument(f"before must be an entry id, not {before!r}.")
    entries = CreditTransaction.objects.filter(account__owner_id=owner_id(owner)).exclude(
        kind=TransactionKind.ALLOCATION
    )
    if before is not None:
        entries = entries.filter(id__lt=before)
    items = list(entries.order_by("-id")[: limit + 1])
    next_cursor = items[limit - 1].id if len(items) > limit else None
    return Page(items[:limit], next_cursor)

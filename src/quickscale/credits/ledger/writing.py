"""What every write of the ledger shares: the account lock, idempotency, and the entry.

Every write locks the owner's account row first, so writes of one account are serialised while
different accounts never wait on each other, changes the stored balance and appends the
``CreditTransaction`` that explains it in the same database transaction, and accepts an
``idempotency_key``: calling again with the same key returns the first result (the same payload
is required; a different one raises ``IdempotencyConflict``).

Every statement goes to the database the routers give for the credits models (a system check,
``quickscale_credits.E006``, refuses routers that split them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import IntegrityError, router, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import ngettext

from quickscale.core.errors import lazy_message
from quickscale.credits import events, signals
from quickscale.credits.amounts import MAX_DIGITS, STORED_PLACES, display
from quickscale.credits.exceptions import (
    CreditError,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidArgument,
)
from quickscale.credits.ledger.allocation import ZERO, Allocations, spent, take_from_grants
from quickscale.credits.ledger.arguments import Common
from quickscale.credits.models import (
    CreditAccount,
    CreditGrant,
    CreditTransaction,
    TransactionKind,
)

T = TypeVar("T")
#: Balances stay below what the columns store.
BALANCE_LIMIT = Decimal(10) ** (MAX_DIGITS - STORED_PLACES)


def database() -> str:
    """The alias of the ledger's database, as the routers give it."""
    return router.db_for_write(CreditAccount)


def idempotent(
    owner_id: Any,
    common: Common,
    digest: str,
    write: Callable[[], T],
    replay: Callable[[CreditTransaction], T] = lambda first: first,  # type: ignore[assignment,return-value]
) -> T:
    """Run ``write`` once per idempotency key: a repeated key returns ``replay(first entry)``.

    There is no read before the write: the unique (account, key) constraint decides, so a
    replay costs one rolled-back transaction and a first call costs nothing extra. A replay
    whose write now fails (the credits were spent since) still returns the first result.
    """
    key = common.idempotency_key
    try:
        return write()
    except (IntegrityError, CreditError):
        if key is None:
            raise
        first = (
            CreditTransaction.objects.filter(account__owner_id=owner_id, idempotency_key=key)
            .select_related("hold", "account")
            .first()
        )
        if first is None:
            raise
    if first.request_digest != digest:
        raise IdempotencyConflict(
            f"The idempotency key {key!r} was already used for a different request.",
            details={"idempotency_key": key, "transaction": first.id},
        )
    return replay(first)


def lock_new_or_existing_account(owner_id: Any) -> tuple[CreditAccount, datetime]:
    """:func:`lock_account`, creating the account first when the owner has none."""
    if not CreditAccount.objects.filter(owner_id=owner_id).exists():
        if not get_user_model().objects.filter(pk=owner_id).exists():
            raise InvalidArgument(f"There is no user {owner_id!r}.", details={"field": "owner"})
        CreditAccount.objects.get_or_create(owner_id=owner_id)
    account, now = lock_account(owner_id)
    assert account is not None  # accounts are never deleted
    return account, now


def lock_account(owner_id: Any) -> tuple[CreditAccount | None, datetime]:
    """Lock the owner's account row, with its unallocated debits taken from the grants, and
    return it with the time the lock was obtained.

    Every write except the one-statement debit starts here, so grant remainders are exact
    under the lock. The time is read after the lock because waiting for it can take a while,
    during which a grant may expire.
    """
    account = CreditAccount.objects.select_for_update().filter(owner_id=owner_id).first()
    now = timezone.now()
    if account is not None and account.unallocated:
        allocate(account, now)
    return account, now


def allocate(account: CreditAccount, now: datetime) -> None:
    """Take the account's unallocated debits from its grants and record where they went.

    Every grant with credits left was live when those debits were made (debits skip the grants
    only before ``next_expiry``), so grants past their expiry are included.
    """
    allocations = take_from_grants(account, account.unallocated, now, include_due=True)
    account.unallocated = ZERO
    store_account(account, now)
    record(
        account,
        TransactionKind.ALLOCATION,
        amount=ZERO,
        allocations=spent(allocations),
        common=Common(reason="debits taken from grants"),
    )


def store_account(account: CreditAccount, now: datetime) -> None:
    """Write the locked account's totals and recompute ``next_expiry`` from its grants."""
    earliest = (
        CreditGrant.objects.filter(
            account_id=OuterRef("pk"), remaining__gt=0, expires_at__isnull=False
        )
        .order_by("expires_at")
        .values("expires_at")[:1]
    )
    CreditAccount.objects.filter(pk=account.pk).update(
        balance=account.balance,
        held=account.held,
        unallocated=account.unallocated,
        next_expiry=Subquery(earliest),
        updated_at=now,
    )


def insufficient_credits(available: Decimal, required: Decimal) -> InsufficientCredits:
    """The error for ``required`` credits when only ``available`` are (it names both)."""
    values = {"required": display(required), "available": display(available)}
    return InsufficientCredits(
        lazy_message(
            lambda: (
                ngettext(
                    "%(required)s credit is needed but only %(available)s are available.",
                    "%(required)s credits are needed but only %(available)s are available.",
                    # "1 credit", but "1.00 credits" and "0.50 credits" (English and German).
                    1 if values["required"] == "1" else 2,
                )
                % values
            )
        ),
        details={"available": display(available), "required": display(required)},
    )


def add_grant(
    account: CreditAccount,
    now: datetime,
    kind: str,
    *,
    source: str,
    amount: Decimal,
    common: Common,
    digest: str,
    priority: int = 0,
    expires_at: datetime | None = None,
    **links: Any,
) -> CreditTransaction:
    """Put ``amount`` in a new grant of the locked account and record it as ``kind``."""
    bucket = CreditGrant.objects.create(
        account=account,
        source=source,
        amount=amount,
        remaining=amount,
        priority=priority,
        expires_at=expires_at,
        reference=common.reference,
    )
    if account.balance + amount >= BALANCE_LIMIT:
        raise InvalidAmount(
            f"The balance would exceed {display(BALANCE_LIMIT - 1)} credits.",
            details={"field": "amount"},
        )
    account.balance += amount
    store_account(account, now)
    return record(account, kind, amount=amount, common=common, digest=digest, grant=bucket, **links)


def record(
    account: CreditAccount,
    kind: str,
    *,
    amount: Decimal,
    common: Common,
    digest: str = "",
    held_delta: Decimal = ZERO,
    allocations: Allocations = (),  # type: ignore[assignment]
    **links: Any,
) -> CreditTransaction:
    """Append the entry explaining a change of the locked account (its totals already
    changed) and announce it."""
    entry = CreditTransaction(
        account=account,
        kind=kind,
        amount=amount,
        held_delta=held_delta,
        balance_after=account.balance,
        held_after=account.held,
        allocations=[[grant_id, display(value)] for grant_id, value in allocations],
        actor=common.actor,
        reason=common.reason,
        reference=common.reference,
        metadata=common.metadata,
        idempotency_key=common.idempotency_key,
        request_digest=digest,
        **links,
    )
    entry.save(force_insert=True)
    announce(entry, account)
    return entry


def announce(entry: CreditTransaction, account: CreditAccount) -> None:
    """Tell the rest of the site about a new entry: inside its transaction through
    ``ledger_entry_written`` and the core event, after its commit through the signal of its
    kind."""
    written = signals.ledger_entry_written
    if written.has_listeners(CreditTransaction):
        written.send(sender=CreditTransaction, entry=entry, account=account)
    events.announce_entry(entry, account)
    signal = signals.BY_KIND.get(entry.kind)
    if signal is None:
        return  # bookkeeping entries change no balance
    transaction.on_commit(
        lambda: signal.send(sender=CreditTransaction, transaction=entry, account=account),
        using=entry._state.db,
    )


def expire_account(account: CreditAccount, now: datetime) -> int:
    """Expire the locked (and allocated) account's due grants; returns how many expired."""
    grants = list(
        CreditGrant.objects.filter(account_id=account.pk, remaining__gt=0, expires_at__lte=now)
        .order_by("id")
        .values_list("id", "remaining")
    )
    if not grants:
        return 0
    total = sum((left for _, left in grants), ZERO)
    CreditGrant.objects.filter(pk__in=[grant_id for grant_id, _ in grants]).update(
        remaining=0, expired_at=now
    )
    account.balance -= total
    store_account(account, now)
    record(
        account,
        TransactionKind.EXPIRE,
        amount=-total,
        allocations=[(grant_id, -left) for grant_id, left in grants],
        common=Common(reason="credits expired"),
    )
    return len(grants)


def consume(
    owner_id: Any, amount: Decimal, *, hold: bool
) -> tuple[CreditAccount, Allocations, datetime]:
    """:func:`try_consume`, raising its refusal."""
    outcome = try_consume(owner_id, amount, hold=hold)
    if isinstance(outcome, InsufficientCredits):
        raise outcome
    return outcome


def try_consume(
    owner_id: Any, amount: Decimal, *, hold: bool
) -> tuple[CreditAccount, Allocations, datetime] | InsufficientCredits:
    """Lock the account, expire its due grants, check availability and take ``amount`` from
    its grants. A debit lowers the balance; a hold raises the held credits instead. A refusal
    is returned, for a caller that must leave its transaction block before raising it (the
    expiry stands: the sweep would do the same)."""
    account, now = lock_account(owner_id)
    if account is None:
        return insufficient_credits(ZERO, amount)
    expire_account(account, now)
    if account.available < amount:
        return insufficient_credits(account.available, amount)
    allocations = take_from_grants(account, amount, now)
    if hold:
        account.held += amount
    else:
        account.balance -= amount
    store_account(account, now)
    return account, allocations, now


def atomic(*, savepoint: bool = True) -> Any:
    """A transaction on the ledger's database, or, inside the caller's, a savepoint (none with
    ``savepoint=False``)."""
    return transaction.atomic(using=database(), savepoint=savepoint)

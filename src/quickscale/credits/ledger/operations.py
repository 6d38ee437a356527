"""The ledger's writes besides the debit: grant, hold, capture, release, refund, adjust, revoke.

Each checks its arguments (the shared ones through :func:`~.arguments.common`), then writes
under the account's lock in one transaction, once per idempotency key (see :mod:`.writing`).
Holds take their credits from grants when they are placed, so credits reserved for running
work can never expire under it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from quickscale.credits.amounts import display, quantize, to_amount, to_signed_amount
from quickscale.credits.exceptions import InvalidArgument, InvalidOperation
from quickscale.credits.ledger.allocation import (
    ZERO,
    Allocations,
    hold_allocations,
    return_to_grants,
    spent,
    take_from_grants,
    uncaptured,
)
from quickscale.credits.ledger.arguments import Owner, common, digest, owner_id
from quickscale.credits.ledger.writing import (
    add_grant,
    atomic,
    consume,
    expire_account,
    idempotent,
    lock_account,
    lock_new_or_existing_account,
    record,
    store_account,
)
from quickscale.credits.models import (
    CreditAccount,
    CreditGrant,
    CreditHold,
    CreditTransaction,
    GrantSource,
    HoldState,
    TransactionKind,
)

#: A hold may last a year at most.
MAX_HOLD_SECONDS = 366 * 24 * 3600
UNSET: Any = object()


def grant(
    owner: Owner,
    amount: Decimal | int,
    *,
    source: str,
    expires_at: datetime | None = UNSET,
    priority: int = 0,
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Add credits in a new grant. Without ``expires_at`` the grant expires after
    ``QUICKSCALE_CREDITS_EXPIRY_DAYS[source]`` days, or never when the source is not listed;
    pass ``expires_at=None`` for credits that never expire."""
    key = owner_id(owner)
    amount = to_amount(amount)
    shared = common(actor, reason, reference, metadata, idempotency_key)
    if source not in GrantSource.values:
        raise InvalidArgument(
            f"source must be one of {', '.join(GrantSource.values)}, not {source!r}.",
            details={"field": "source"},
        )
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 32767:
        raise InvalidArgument("priority must be an integer from -32767 to 32767.")
    if expires_at is UNSET:
        days = settings.QUICKSCALE_CREDITS_EXPIRY_DAYS.get(source)
        expires_at = timezone.now() + timedelta(days=days) if days else None
    elif expires_at is not None and (
        not isinstance(expires_at, datetime) or timezone.is_naive(expires_at)
    ):
        raise InvalidArgument("expires_at must be an aware datetime or None.")
    elif expires_at is not None and expires_at <= timezone.now():
        raise InvalidArgument(
            f"expires_at must be in the future, not {expires_at.isoformat()}.",
            details={"field": "expires_at"},
        )
    # The expiry is not part of the payload: callers often compute it ("now + 30 days") and a
    # retry must not turn into a conflict. A replay keeps the first call's expiry.
    fingerprint = digest(
        "grant", amount=amount, source=source, priority=priority, reference=shared.reference
    )

    def write() -> CreditTransaction:
        with atomic():
            account, now = lock_new_or_existing_account(key)
            return add_grant(
                account,
                now,
                TransactionKind.GRANT,
                source=source,
                amount=amount,
                priority=priority,
                expires_at=expires_at,
                common=shared,
                digest=fingerprint,
            )

    return idempotent(key, shared, fingerprint, write)


def hold(
    owner: Owner,
    amount: Decimal | int,
    *,
    timeout: int | None = None,
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditHold:
    """Reserve credits for work that has not finished. Settle the hold with :func:`capture` or
    :func:`release`; after ``timeout`` seconds (default ``QUICKSCALE_CREDITS_HOLD_TIMEOUT``)
    :func:`~quickscale.credits.ledger.release_expired_holds` releases it."""
    key = owner_id(owner)
    amount = to_amount(amount)
    if timeout is None:
        timeout = settings.QUICKSCALE_CREDITS_HOLD_TIMEOUT
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int)
        or not 1 <= timeout <= MAX_HOLD_SECONDS
    ):
        raise InvalidArgument(
            f"timeout must be a number of seconds from 1 to {MAX_HOLD_SECONDS}, not {timeout!r}."
        )
    shared = common(actor, reason, reference, metadata, idempotency_key)
    fingerprint = digest("hold", amount=amount, reference=shared.reference)

    def write() -> CreditHold:
        with atomic():
            account, allocations, now = consume(key, amount, hold=True)
            reservation = CreditHold.objects.create(
                account=account,
                amount=amount,
                allocations=[[grant_id, display(value)] for grant_id, value in allocations],
                expires_at=now + timedelta(seconds=timeout),
                reference=shared.reference,
            )
            record(
                account,
                TransactionKind.HOLD,
                amount=ZERO,
                held_delta=amount,
                allocations=spent(allocations),
                hold=reservation,
                common=shared,
                digest=fingerprint,
            )
            return reservation

    def replay(first: CreditTransaction) -> CreditHold:
        assert first.hold is not None
        return first.hold

    return idempotent(key, shared, fingerprint, write, replay)


def settle(
    reservation: CreditHold,
    *,
    captured: Decimal | None,
    state: str,
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Close an active hold: spend ``captured`` of it (``None``: nothing, a release) and give
    the rest back to its grants, leaving it in ``state``."""
    if not isinstance(reservation, CreditHold) or reservation.pk is None:
        raise InvalidArgument("hold must be a saved CreditHold.")
    shared = common(actor, reason, "", metadata, idempotency_key)
    key = (
        CreditAccount.objects.filter(pk=reservation.account_id)
        .values_list("owner_id", flat=True)
        .get()
    )
    operation = "capture" if captured is not None else "release"
    fingerprint = digest(operation, hold=reservation.pk, amount=captured)

    def write() -> CreditTransaction:
        with atomic():
            account, now = lock_account(key)
            assert account is not None  # a hold's account exists
            current = CreditHold.objects.select_for_update().get(pk=reservation.pk)
            if current.state != HoldState.ACTIVE:
                settled = current.transactions.exclude(kind=TransactionKind.HOLD).first()
                if settled is not None and settled.request_digest == fingerprint:
                    return settled  # the same settlement again: nothing to do
                raise InvalidOperation(
                    f"The hold is already {current.state}.",
                    details={"hold": current.pk, "state": current.state},
                )
            keep = captured if captured is not None else ZERO
            if keep > current.amount:
                raise InvalidOperation(
                    f"Cannot capture {keep} credits from a hold of {current.amount}.",
                    details={"hold": current.pk, "held": str(current.amount)},
                )
            returned = uncaptured(hold_allocations(current), keep)
            return_to_grants(returned)
            account.balance -= keep
            account.held -= current.amount
            store_account(account, now)
            CreditHold.objects.filter(pk=current.pk).update(
                state=state, captured=captured, settled_at=now
            )
            kind = TransactionKind.CAPTURE if captured is not None else TransactionKind.RELEASE
            return record(
                account,
                kind,
                amount=-keep,
                held_delta=-current.amount,
                allocations=returned,
                hold=current,
                common=replace(shared, reference=current.reference),
                digest=fingerprint,
            )

    return idempotent(key, shared, fingerprint, write)


def capture(
    reservation: CreditHold,
    amount: Decimal | int | None = None,
    *,
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Spend a hold: all of it, or ``amount`` of it with the rest returned to its grants.

    Capturing the same hold again with the same amount returns the first capture.
    """
    captured = to_amount(reservation.amount if amount is None else amount, allow_zero=True)
    return settle(
        reservation,
        captured=captured,
        state=HoldState.CAPTURED,
        actor=actor,
        reason=reason,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )


def release(
    reservation: CreditHold,
    *,
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Give a hold's credits back to the grants they came from, spending nothing."""
    return settle(
        reservation,
        captured=None,
        state=HoldState.RELEASED,
        actor=actor,
        reason=reason,
        metadata=metadata,
        idempotency_key=idempotency_key,
    )


def refund(
    entry: CreditTransaction,
    amount: Decimal | int | None = None,
    *,
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Give back credits spent by a debit or a capture (all that is left to refund, or
    ``amount``) as a new grant that never expires. The total refunded never exceeds what the
    entry spent."""
    if not isinstance(entry, CreditTransaction) or entry.pk is None:
        raise InvalidArgument("entry must be a saved CreditTransaction.")
    shared = common(actor, reason, entry.reference, metadata, idempotency_key)
    if entry.kind not in (TransactionKind.DEBIT, TransactionKind.CAPTURE) or entry.amount >= 0:
        raise InvalidOperation(
            f"Only debits and captures can be refunded, not a {entry.kind}.",
            details={"transaction": entry.pk},
        )
    requested = None if amount is None else to_amount(amount)
    key = entry.account.owner_id
    fingerprint = digest("refund", entry=entry.pk, amount=requested)

    def write() -> CreditTransaction:
        with atomic():
            account, now = lock_account(key)
            assert account is not None  # a spending entry's account exists
            refunded = entry.refunds.aggregate(total=Sum("amount"))["total"] or ZERO
            left = -entry.amount - refunded
            value = left if requested is None else requested
            if value <= 0 or value > left:
                raise InvalidOperation(
                    f"{quantize(left)} credits of this entry are left to refund, "
                    f"so {quantize(value)} cannot be refunded.",
                    details={"transaction": entry.pk, "refundable": display(left)},
                )
            return add_grant(
                account,
                now,
                TransactionKind.REFUND,
                source=GrantSource.REFUND,
                amount=value,
                refund_of=entry,
                common=shared,
                digest=fingerprint,
            )

    return idempotent(key, shared, fingerprint, write)


def adjust(
    owner: Owner,
    amount: Decimal | int,
    *,
    reason: str,
    actor: Any = None,
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """A staff correction: a positive ``amount`` adds credits that never expire, a negative one
    removes available credits (in consumption order). ``reason`` is required."""
    key = owner_id(owner)
    change = to_signed_amount(amount)
    shared = common(actor, reason, reference, metadata, idempotency_key)
    if not shared.reason.strip():
        raise InvalidArgument("An adjustment needs a reason.", details={"field": "reason"})
    fingerprint = digest("adjust", amount=change, reference=shared.reference)

    def write() -> CreditTransaction:
        with atomic():
            if change < 0:
                account, allocations, _ = consume(key, -change, hold=False)
                return record(
                    account,
                    TransactionKind.ADJUSTMENT,
                    amount=change,
                    allocations=spent(allocations),
                    common=shared,
                    digest=fingerprint,
                )
            account, now = lock_new_or_existing_account(key)
            return add_grant(
                account,
                now,
                TransactionKind.ADJUSTMENT,
                source=GrantSource.ADMIN,
                amount=change,
                common=shared,
                digest=fingerprint,
            )

    return idempotent(key, shared, fingerprint, write)


@dataclass(frozen=True)
class Revocation:
    """What :func:`revoke` took back: ``entry`` records it; ``shortfall`` is what it could not
    take because the credits were spent (or held, or expired) already."""

    entry: CreditTransaction
    requested: Decimal
    taken: Decimal
    shortfall: Decimal


def revoke(
    entry: CreditTransaction,
    amount: Decimal | int | None = None,
    *,
    actor: Any = None,
    reason: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Revocation:
    """Take back credits a grant gave (all of them, or ``amount``), e.g. when the payment that
    bought them is refunded.

    The credits come first from what is left of that grant, then from the owner's other
    available credits in consumption order, and never more than is available: the balance
    does not go below zero and held credits are not touched. What could not be taken is the
    ``shortfall``, returned and kept in the entry's ``metadata["revoke"]``. The change is
    recorded as an ``adjustment`` entry, of zero credits when nothing could be taken, so a
    replay with the same ``idempotency_key`` returns the first result.
    """
    if not isinstance(entry, CreditTransaction) or entry.pk is None:
        raise InvalidArgument("entry must be a saved CreditTransaction.")
    if entry.grant_id is None or entry.amount <= 0:
        raise InvalidOperation(
            f"Only entries that made a grant can be revoked, not a {entry.kind}.",
            details={"transaction": entry.pk},
        )
    shared = common(actor, reason, entry.reference, metadata, idempotency_key)
    requested = entry.amount if amount is None else to_amount(amount)
    if requested > entry.amount:
        raise InvalidOperation(
            f"The grant gave {display(entry.amount)} credits, so {display(requested)} cannot be "
            "revoked.",
            details={"transaction": entry.pk, "granted": display(entry.amount)},
        )
    key = entry.account.owner_id
    grant_id: int = entry.grant_id
    fingerprint = digest("revoke", entry=entry.pk, amount=requested)

    def write() -> CreditTransaction:
        with atomic():
            account, now = lock_account(key)
            assert account is not None  # a grant's account exists
            # Credits past their expiry are gone already: they are not the ones taken back.
            expire_account(account, now)
            left = CreditGrant.objects.filter(pk=grant_id).values_list("remaining", flat=True).get()
            from_grant = min(quantize(left), requested)
            allocations: Allocations = []
            if from_grant:
                CreditGrant.objects.filter(pk=grant_id).update(
                    remaining=quantize(left) - from_grant
                )
                allocations.append((grant_id, from_grant))
            # The grant's credits are part of the available ones, so what else is available
            # is the rest of them.
            others = min(requested - from_grant, account.available - from_grant)
            if others > 0:
                allocations += take_from_grants(account, others, now)
            taken = from_grant + max(others, ZERO)
            account.balance -= taken
            store_account(account, now)
            revoked = {
                "grant_entry": entry.pk,
                "requested": display(requested),
                "shortfall": display(requested - taken),
            }
            return record(
                account,
                TransactionKind.ADJUSTMENT,
                amount=-taken,
                allocations=spent(allocations),
                common=replace(shared, metadata={**shared.metadata, "revoke": revoked}),
                digest=fingerprint,
            )

    recorded = idempotent(key, shared, fingerprint, write)
    taken = quantize(-recorded.amount)
    return Revocation(recorded, quantize(requested), taken, quantize(requested) - taken)

"""The credit ledger's operations: the only code that writes the credit tables.

Every write locks the owner's account row first, so writes of one account are serialised
while different accounts never wait on each other, changes the stored balance and appends the
``CreditTransaction`` that explains it in the same database transaction, and accepts an
``idempotency_key``: calling again with the same key returns the first result (the same
payload is required; a different one raises ``IdempotencyConflict``).

Credits are consumed from grants in order: higher ``priority`` first, then the earliest
expiry, then the oldest grant. Holds take their credits from grants when they are placed, so
credits reserved for running work can never expire under it.

A debit made while no grant of the account is about to expire changes only the account row and
appends its entry: the credits it spent are added to ``CreditAccount.unallocated``, and the next
write that needs exact grant remainders (a grant, a hold, an expiry...) first takes them from the
grants in consumption order and records that in an ``allocation`` entry. The grants those debits
would have used are the same, because no grant expired and none was added in between.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models import signals as model_signals
from django.utils import timezone

from quickscale.core.db import fetch_one
from quickscale.credits import signals
from quickscale.credits.amounts import (
    MAX_DIGITS,
    STORED_PLACES,
    display,
    quantize,
    to_amount,
    to_signed_amount,
)
from quickscale.credits.exceptions import (
    CreditError,
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidArgument,
    InvalidOperation,
    LedgerCorrupted,
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

__all__ = [
    "Balance",
    "Companion",
    "Evaluated",
    "GrantBalance",
    "Page",
    "PendingEntry",
    "Problem",
    "Revocation",
    "adjust",
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
    "refund",
    "release",
    "release_expired_holds",
    "revoke",
    "statement",
    "sweep",
    "verify",
]

T = TypeVar("T")
Owner = Any  # a user instance or its primary key
ZERO = Decimal(0)
#: A hold may last a year at most.
MAX_HOLD_SECONDS = 366 * 24 * 3600
#: Balances stay below what the columns store.
BALANCE_LIMIT = Decimal(10) ** (MAX_DIGITS - STORED_PLACES)
UNSET: Any = object()
Allocations = list[tuple[int, Decimal]]


@dataclass(frozen=True)
class Balance:
    """An account's credits: ``available`` = ``balance`` - ``held``."""

    balance: Decimal
    held: Decimal
    available: Decimal


@dataclass(frozen=True)
class Page:
    """One page of a statement, newest first; pass ``next_cursor`` as ``before`` for more."""

    items: list[CreditTransaction]
    next_cursor: int | None


#: A statement written together with a ledger entry, on PostgreSQL: SQL (with ``%s``
#: placeholders) that may read the entry just written from the common table expression
#: ``quickscale_entry`` (every column of its table), and its parameters. It becomes part of the
#: entry's own statement: no round trip of its own, and atomic with the entry.
Companion = tuple[str, Sequence[Any]]

#: The name under which a companion reads the entry being written.
ENTRY_CTE = "quickscale_entry"


class Evaluated(NamedTuple):
    """A companion that is an expression of the statement's final ``SELECT`` list, evaluated
    once with the entry (``FROM quickscale_entry``): a call of a function that writes rows,
    whose statements PostgreSQL plans once per connection instead of with every entry."""

    sql: str
    params: Sequence[Any]


@dataclass
class PendingEntry:
    """A ledger entry about to be written, as receivers of ``ledger_entry_writing`` see it.

    Its id, the account's id and the balances are not known yet: a companion reads them from
    ``quickscale_entry`` in SQL (``balance_after``, ``held_after``, ``account_id``, ``id``...).
    """

    kind: str
    owner_id: Any
    #: Signed, as stored: a debit's is negative.
    amount: Decimal
    actor: Any
    reason: str
    reference: str
    metadata: dict[str, Any]
    #: The database alias the entry is written to.
    using: str
    companions: list[Companion] = field(default_factory=list)

    def write_with(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Write ``sql`` in the same statement as this entry (see :data:`Companion`)."""
        self.companions.append((sql, list(params)))

    def evaluate_with(self, expression: str, params: Sequence[Any] = ()) -> None:
        """Evaluate ``expression`` once with this entry, in its statement (see
        :class:`Evaluated`)."""
        self.companions.append(Evaluated(expression, list(params)))


@dataclass(frozen=True)
class Problem:
    """A broken ledger invariant found by :func:`verify`."""

    account_id: int
    code: str
    message: str


# -- reading -----------------------------------------------------------------------------


def _owner_id(owner: Owner) -> Any:
    """The user's primary key. Only a user, or a key of the user model's own type (or its
    string form), is accepted: ``1.5`` must never turn into user 1."""
    user_model = get_user_model()
    if isinstance(owner, user_model):
        if owner.pk is None:
            raise InvalidArgument("The owner must be a saved user.")
        return owner.pk
    if owner is None or isinstance(owner, (bool, float, Decimal)):
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.")
    try:
        key = user_model._meta.pk.to_python(owner)
    except ValidationError:
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.") from None
    if str(key) != str(owner):
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.")
    return key


def _actor(actor: Any) -> Any:
    """A user (or ``None``) recorded as the one who made a change."""
    if actor is None or getattr(actor, "is_anonymous", False):
        return None
    if not isinstance(actor, get_user_model()) or actor.pk is None:
        raise InvalidArgument(f"actor must be a saved user or None, not {actor!r}.")
    return actor


def get_account(owner: Owner, *, create: bool = False) -> CreditAccount | None:
    """The owner's account; with ``create=True`` it is created when missing."""
    owner_id = _owner_id(owner)
    if not create:
        return CreditAccount.objects.filter(owner_id=owner_id).first()
    account, _ = CreditAccount.objects.get_or_create(owner_id=owner_id)
    return account


def balance(owner: Owner) -> Balance:
    """The owner's balance, read from the stored row: one indexed query whatever the history.

    Credits of grants that are past their expiry but not yet swept are not counted (finding
    them costs a second query, only once such a grant exists).
    """
    row = (
        CreditAccount.objects.filter(owner_id=_owner_id(owner))
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
                for _, expires_at, left in _live_grants(account_id, unallocated)
                if expires_at is not None and expires_at <= now
            ),
            ZERO,
        )
    current = quantize(stored - due)
    held = quantize(held)
    return Balance(current, held, current - held)


@dataclass(frozen=True)
class GrantBalance:
    """What is left of one grant."""

    source: str
    remaining: Decimal
    expires_at: datetime | None


def grants(owner: Owner) -> list[GrantBalance]:
    """The owner's unexpired credits grant by grant, in the order they will be spent (held
    credits are not included)."""
    account = CreditAccount.objects.filter(owner_id=_owner_id(owner)).first()
    if account is None:
        return []
    now = timezone.now()
    return [
        GrantBalance(source, quantize(left), expires_at)
        for source, expires_at, left in _live_grants(account.id, account.unallocated)
        if left and (expires_at is None or expires_at > now)
    ]


def breakdown(owner: Owner) -> dict[str, Decimal]:
    """Unexpired credits left per grant source (held credits are not included)."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for grant in grants(owner):
        totals[grant.source] += grant.remaining
    return {source: totals[source] for source in sorted(totals)}


def _live_grants(
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


def statement(owner: Owner, *, before: int | None = None, limit: int = 50) -> Page:
    """The owner's ledger entries, newest first, ``limit`` at a time (keyset pagination).

    Bookkeeping ``allocation`` entries are left out: they change no balance.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidArgument(f"limit must be an integer from 1 to 1000, not {limit!r}.")
    if before is not None and (isinstance(before, bool) or not isinstance(before, int)):
        raise InvalidArgument(f"before must be an entry id, not {before!r}.")
    entries = CreditTransaction.objects.filter(account__owner_id=_owner_id(owner)).exclude(
        kind=TransactionKind.ALLOCATION
    )
    if before is not None:
        entries = entries.filter(id__lt=before)
    items = list(entries.order_by("-id")[: limit + 1])
    next_cursor = items[limit - 1].id if len(items) > limit else None
    return Page(items[:limit], next_cursor)


# -- writing: shared machinery ------------------------------------------------------------


def _digest(operation: str, **payload: Any) -> str:
    text = json.dumps([operation, payload], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_idempotency_key(idempotency_key: str | None) -> None:
    """Refuse a key the database could not store (every write's ``idempotency_key``)."""
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str)
        or not 1 <= len(idempotency_key) <= 255
        or "\x00" in idempotency_key
    ):
        raise InvalidArgument(
            "idempotency_key must be a string of 1 to 255 characters without NUL.",
            details={"field": "idempotency_key"},
        )


def _idempotent(
    owner_id: Any,
    idempotency_key: str | None,
    digest: str,
    write: Callable[[], T],
    replay: Callable[[CreditTransaction], T],
) -> T:
    """Run ``write`` once per key: a repeated key returns ``replay(first entry)``.

    There is no read before the write: the unique (account, key) constraint decides, so a
    replay costs one rolled-back transaction and a first call costs nothing extra. A replay
    whose write now fails (the credits were spent since) still returns the first result.
    """
    try:
        return write()
    except (IntegrityError, CreditError):
        if idempotency_key is None:
            raise
        first = (
            CreditTransaction.objects.filter(
                account__owner_id=owner_id, idempotency_key=idempotency_key
            )
            .select_related("hold", "account")
            .first()
        )
        if first is None:
            raise
    if first.request_digest != digest:
        raise IdempotencyConflict(
            f"The idempotency key {idempotency_key!r} was already used for a different request.",
            details={"idempotency_key": idempotency_key, "transaction": first.id},
        )
    return replay(first)


def _lock_new_or_existing_account(owner_id: Any) -> tuple[CreditAccount, datetime]:
    """:func:`_lock_account`, creating the account first when the owner has none."""
    if not CreditAccount.objects.filter(owner_id=owner_id).exists():
        if not get_user_model().objects.filter(pk=owner_id).exists():
            raise InvalidArgument(f"There is no user {owner_id!r}.", details={"field": "owner"})
        CreditAccount.objects.get_or_create(owner_id=owner_id)
    account, now = _lock_account(owner_id)
    assert account is not None  # accounts are never deleted
    return account, now


def _lock_account(owner_id: Any) -> tuple[CreditAccount | None, datetime]:
    """Lock the owner's account row, with its unallocated debits taken from the grants, and
    return it with the time the lock was obtained.

    Every write except the fast debit starts here, so grant remainders are exact under the lock.
    The time is read after the lock because waiting for it can take a while, during which a
    grant may expire.
    """
    account = CreditAccount.objects.select_for_update().filter(owner_id=owner_id).first()
    now = timezone.now()
    if account is not None and account.unallocated:
        _allocate(account, now)
    return account, now


def _allocate(account: CreditAccount, now: datetime) -> None:
    """Take the account's unallocated debits from its grants and record where they went.

    Every grant with credits left was live when those debits were made (debits skip the grants
    only before ``next_expiry``), so grants past their expiry are included.
    """
    allocations = _take_from_grants(account, account.unallocated, now, include_due=True)
    account.unallocated = ZERO
    _store_account(account, now)
    _record(
        account,
        TransactionKind.ALLOCATION,
        amount=ZERO,
        allocations=_spent(allocations),
        reason="debits taken from grants",
    )


def _store_account(account: CreditAccount, now: datetime) -> None:
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
    return InsufficientCredits(
        f"{display(required)} credits are needed but only {display(available)} are available.",
        details={"available": display(available), "required": display(required)},
    )


def _add_grant(
    account: CreditAccount,
    now: datetime,
    kind: str,
    *,
    source: str,
    amount: Decimal,
    priority: int = 0,
    expires_at: datetime | None = None,
    **fields: Any,
) -> CreditTransaction:
    """Put ``amount`` in a new grant of the locked account and record it as ``kind``."""
    bucket = CreditGrant.objects.create(
        account=account,
        source=source,
        amount=amount,
        remaining=amount,
        priority=priority,
        expires_at=expires_at,
        reference=fields.get("reference", ""),
    )
    _add_credits(account, amount)
    _store_account(account, now)
    return _record(account, kind, amount=amount, grant=bucket, **fields)


def _add_credits(account: CreditAccount, amount: Decimal) -> None:
    """Raise the locked account's balance, refusing a balance the database could not store."""
    if account.balance + amount >= BALANCE_LIMIT:
        raise InvalidAmount(
            f"The balance would exceed {display(BALANCE_LIMIT - 1)} credits.",
            details={"field": "amount"},
        )
    account.balance += amount


GRANT_ORDER = (F("priority").desc(), F("expires_at").asc(nulls_last=True), F("id").asc())


def _take_from_grants(
    account: CreditAccount, amount: Decimal, now: datetime, *, include_due: bool = False
) -> Allocations:
    """Take ``amount`` from the locked account's grants in consumption order.

    Arithmetic is done in Python on ``Decimal``: SQLite would do it in floating point.
    """
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


def _return_to_grants(allocations: Iterable[tuple[int, Decimal]]) -> None:
    # Read, add in Python, write: SQLite would do the addition in floating point. The account
    # lock the caller holds keeps the read current.
    for grant_id, amount in allocations:
        remaining = (
            CreditGrant.objects.filter(pk=grant_id).values_list("remaining", flat=True).get()
        )
        CreditGrant.objects.filter(pk=grant_id).update(remaining=quantize(remaining + amount))


def _spent(allocations: Allocations) -> Allocations:
    """Allocations as recorded on an entry: the change of each grant's remaining credits."""
    return [(grant_id, -value) for grant_id, value in allocations]


def _uncaptured(allocations: Allocations, keep: Decimal) -> Allocations:
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


def _record(
    account: CreditAccount,
    kind: str,
    *,
    amount: Decimal,
    held_delta: Decimal = ZERO,
    allocations: Allocations = (),  # type: ignore[assignment]
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    digest: str = "",
    companions: list[Companion] | None = None,
    **links: Any,
) -> CreditTransaction:
    entry = CreditTransaction(
        account=account,
        kind=kind,
        amount=amount,
        held_delta=held_delta,
        balance_after=account.balance,
        held_after=account.held,
        allocations=[[grant_id, display(value)] for grant_id, value in allocations],
        actor=actor,
        reason=reason,
        reference=reference,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
        request_digest=digest,
        **links,
    )
    if companions is None:
        companions = _companions(
            kind, account.owner_id, amount, actor, reason, reference, entry.metadata
        )
    if companions:
        _insert_entry(entry, companions)
    else:
        entry.save(force_insert=True)
    _announce(entry, account)
    return entry


def _companions(
    kind: str,
    owner_id: Any,
    amount: Decimal,
    actor: Any,
    reason: str,
    reference: str,
    metadata: dict[str, Any],
    also: Sequence[Companion] = (),
) -> list[Companion]:
    """The caller's companions of an entry and those of ``ledger_entry_writing``'s receivers
    (PostgreSQL only: elsewhere the signal is not sent)."""
    companions = list(also)
    if signals.ledger_entry_writing.receivers and connection.vendor == "postgresql":
        pending = PendingEntry(
            kind, owner_id, amount, actor, reason, reference, metadata, connection.alias
        )
        signals.ledger_entry_writing.send(sender=CreditTransaction, entry=pending)
        companions += pending.companions
    return companions


def _with_companions(companions: Sequence[Companion]) -> tuple[str, list[Any], str, list[Any]]:
    """The ``, c0 AS (...), c1 AS (...)`` part of a statement and its parameters, and the
    ``, expression...`` part of its final ``SELECT`` list (the :class:`Evaluated` ones) and
    theirs."""
    ctes, cte_params, selected, selected_params = "", [], "", []
    for number, companion in enumerate(companions):
        if isinstance(companion, Evaluated):
            selected += f", {companion.sql}"
            selected_params += list(companion.params)
        else:
            fragment, values = companion
            ctes += f", quickscale_companion_{number} AS ({fragment})"
            cte_params += list(values)
    return ctes, cte_params, selected, selected_params


def _insert_entry(entry: CreditTransaction, companions: Sequence[Companion]) -> None:
    """INSERT ``entry`` and its companions in one statement (PostgreSQL). The model's
    ``pre_save``/``post_save`` signals are sent as ``save()`` would send them."""
    alias = connection.alias
    if model_signals.pre_save.has_listeners(CreditTransaction):
        model_signals.pre_save.send(
            sender=CreditTransaction, instance=entry, raw=False, using=alias, update_fields=None
        )
    fields, head = _entry_insert()
    values = [field.get_db_prep_save(field.pre_save(entry, True), connection) for field in fields]
    ctes, cte_params, selected, selected_params = _with_companions(companions)
    with connection.cursor() as cursor:
        cursor.execute(
            f"{head}{ctes} SELECT {ENTRY_CTE}.id{selected} FROM {ENTRY_CTE}",  # noqa: S608
            [*values, *cte_params, *selected_params],
        )
        entry.pk = cursor.fetchone()[0]
    entry._state.adding = False
    entry._state.db = alias
    if model_signals.post_save.has_listeners(CreditTransaction):
        model_signals.post_save.send(
            sender=CreditTransaction,
            instance=entry,
            created=True,
            update_fields=None,
            raw=False,
            using=alias,
        )


@functools.cache
def _entry_insert() -> tuple[list[Any], str]:
    """The fields an entry's INSERT writes and the ``WITH quickscale_entry AS (INSERT ...)``
    that writes them (PostgreSQL), built once."""
    fields = [field for field in CreditTransaction._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(f'"{field.column}"' for field in fields)
    return fields, (
        f'WITH {ENTRY_CTE} AS (INSERT INTO "{CreditTransaction._meta.db_table}" '  # noqa: S608
        f"({columns}) VALUES ({', '.join(['%s'] * len(fields))}) RETURNING *)"
    )


def _announce(entry: CreditTransaction, account: CreditAccount) -> None:
    written = signals.ledger_entry_written
    if written.receivers:
        written.send(sender=CreditTransaction, entry=entry, account=account)
    signal = signals.BY_KIND.get(entry.kind)
    if signal is None:
        return  # bookkeeping entries change no balance
    transaction.on_commit(
        lambda: signal.send(sender=CreditTransaction, transaction=entry, account=account)
    )


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > 255 or "\x00" in value:
        raise InvalidArgument(
            f"{name} must be a string of at most 255 characters without NUL.",
            details={"field": name},
        )
    return value


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("metadata must be a dict.")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"metadata must be JSON-serialisable: {error}.") from None
    if "\\u0000" in text:
        raise InvalidArgument("metadata must not contain NUL characters.")
    return value


# -- writing: the operations ---------------------------------------------------------------


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
    owner_id = _owner_id(owner)
    actor = _actor(actor)
    amount = to_amount(amount)
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
    reason, reference = _text(reason, "reason"), _text(reference, "reference")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    # The expiry is not part of the payload: callers often compute it ("now + 30 days") and a
    # retry must not turn into a conflict. A replay keeps the first call's expiry.
    digest = _digest("grant", amount=amount, source=source, priority=priority, reference=reference)

    def write() -> CreditTransaction:
        with transaction.atomic():
            account, now = _lock_new_or_existing_account(owner_id)
            return _add_grant(
                account,
                now,
                TransactionKind.GRANT,
                source=source,
                amount=amount,
                priority=priority,
                expires_at=expires_at,
                actor=actor,
                reason=reason,
                reference=reference,
                metadata=metadata,
                idempotency_key=idempotency_key,
                digest=digest,
            )

    return _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)


def _consume(
    owner_id: Any, amount: Decimal, *, hold: bool
) -> tuple[CreditAccount, Allocations, datetime]:
    """Lock the account, expire its due grants, check availability and take ``amount`` from
    its grants. A debit lowers the balance; a hold raises the held credits instead."""
    account, now = _lock_account(owner_id)
    if account is None:
        raise insufficient_credits(ZERO, amount)
    _expire_account(account, now)
    if account.available < amount:
        raise insufficient_credits(account.available, amount)
    allocations = _take_from_grants(account, amount, now)
    if hold:
        account.held += amount
    else:
        account.balance -= amount
    _store_account(account, now)
    return account, allocations, now


def _fast_debit(
    owner_id: Any,
    amount: Decimal,
    fields: dict[str, Any],
    companions: Sequence[Companion] = (),
) -> CreditTransaction | None:
    """Debit without touching grants while none is about to expire, or return ``None``.

    The credits join ``unallocated`` (see the module docstring). On PostgreSQL this is ONE
    statement, the conditional UPDATE of the account and the INSERT of its entry (and its
    ``companions``) joined in a data-modifying ``WITH``: one round trip, atomic by itself, so
    it needs neither a transaction nor a savepoint of its own. It may wait for the account's
    lock; a grant that came due meanwhile makes it change nothing (see ``_fast_debit_sql``),
    and the exact path runs instead.
    """
    conn = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the proxy
    if conn.vendor != "postgresql":
        account = CreditAccount.objects.select_for_update().filter(owner_id=owner_id).first()
        now = timezone.now()
        if (
            account is None
            or account.available < amount
            or (account.next_expiry is not None and account.next_expiry <= now)
        ):
            return None
        account.balance -= amount
        account.unallocated += amount
        CreditAccount.objects.filter(pk=account.pk).update(
            balance=account.balance, unallocated=account.unallocated, updated_at=now
        )
        return _record(account, TransactionKind.DEBIT, amount=-amount, **fields)
    now = timezone.now()
    actor = fields["actor"]
    ctes, cte_params, selected, selected_params = _with_companions(companions)
    row = fetch_one(
        conn,
        _fast_debit_sql() % {"companions": ctes, "selected": selected},
        [
            owner_id,  # l
            amount,  # a
            amount,
            now,
            amount,
            now,
            -amount,  # the entry
            actor.pk if actor is not None else None,
            fields["reason"],
            fields["reference"],
            json.dumps(fields["metadata"]),
            fields["idempotency_key"],
            fields["digest"],
            now,
            *cte_params,
            *selected_params,
        ],
    )
    if row is None:
        return None
    account = CreditAccount.from_db(conn.alias, _ACCOUNT_NAMES, row[1 : 1 + len(_ACCOUNT_NAMES)])
    # The entry as stored, built the way the ORM builds a row it read (the keyword
    # constructor costs several times more).
    values = {
        "id": row[0],
        "account_id": account.id,
        "kind": TransactionKind.DEBIT,
        "amount": -amount,
        "held_delta": ZERO,
        "balance_after": account.balance,
        "held_after": account.held,
        "allocations": [],
        "grant_id": None,
        "hold_id": None,
        "refund_of_id": None,
        "actor_id": actor.pk if actor is not None else None,
        "reason": fields["reason"],
        "reference": fields["reference"],
        "metadata": fields["metadata"],
        "idempotency_key": fields["idempotency_key"],
        "request_digest": fields["digest"],
        "created_at": now,
    }
    entry = CreditTransaction.from_db(
        conn.alias, _ENTRY_NAMES, [values[name] for name in _ENTRY_NAMES]
    )
    _ENTRY_ACCOUNT.set_cached_value(entry, account)
    if actor is not None:
        _ENTRY_ACTOR.set_cached_value(entry, actor)
    _announce(entry, account)
    return entry


_ACCOUNT_NAMES = [field.attname for field in CreditAccount._meta.concrete_fields]
_ENTRY_NAMES = [field.attname for field in CreditTransaction._meta.concrete_fields]
_ENTRY_ACCOUNT: Any = CreditTransaction._meta.get_field("account")
_ENTRY_ACTOR: Any = CreditTransaction._meta.get_field("actor")


@functools.cache
def _fast_debit_sql() -> str:
    """The debit's one statement, with ``%(companions)s`` where its companions go and
    ``%(selected)s`` where the evaluated ones go (every other ``%`` is doubled), and positional
    parameters."""
    accounts = CreditAccount._meta.db_table
    entries = CreditTransaction._meta.db_table
    columns = ", ".join(f"a.{field.column}" for field in CreditAccount._meta.concrete_fields)
    # ``l`` takes the account's lock first and yields the row as committed when it got it, so
    # the expiry condition is checked after any wait, at the time it ended: ``now`` plus the
    # time the statement has run (the database's clock measures only the duration). Changes
    # made by whoever held the lock are seen by the UPDATE too (PostgreSQL checks its condition
    # again against the new row).
    return (
        "WITH l AS MATERIALIZED ("  # noqa: S608
        f"SELECT id, next_expiry FROM {accounts} WHERE owner_id = %%s FOR UPDATE), "
        f"a AS (UPDATE {accounts} SET balance = balance - %%s, "
        "unallocated = unallocated + %%s, updated_at = %%s FROM l "
        f"WHERE {accounts}.id = l.id AND balance - held >= %%s AND (l.next_expiry IS NULL "
        "OR l.next_expiry > %%s + (clock_timestamp() - statement_timestamp())) "
        f"RETURNING {accounts}.*), "
        f"{ENTRY_CTE} AS (INSERT INTO {entries} (account_id, kind, amount, held_delta, "
        "balance_after, held_after, allocations, actor_id, reason, reference, metadata, "
        "idempotency_key, request_digest, created_at) SELECT a.id, 'debit', %%s, 0, a.balance, "
        "a.held, '[]', %%s, %%s, %%s, %%s::jsonb, %%s, %%s, %%s FROM a RETURNING *)"
        f"%(companions)s SELECT {ENTRY_CTE}.id, {columns}%(selected)s FROM a, {ENTRY_CTE}"
    )


def debit(
    owner: Owner,
    amount: Decimal | int,
    *,
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    also: Sequence[Companion] = (),
) -> CreditTransaction:
    """Spend credits now. Raises ``InsufficientCredits`` (and changes nothing) when the
    available credits do not cover ``amount``.

    ``also`` (PostgreSQL only) are statements written in the same statement as the entry
    (see :data:`Companion`): a row that records what the credits paid for commits with the
    debit, or neither does, without a round trip or a transaction of its own. They are not
    run again when an ``idempotency_key`` replays the first debit.
    """
    owner_id = _owner_id(owner)
    actor = _actor(actor)
    amount = to_amount(amount)
    reason, reference = _text(reason, "reason"), _text(reference, "reference")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    conn = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the proxy
    if also and conn.vendor != "postgresql":
        raise InvalidArgument(
            f"also= needs PostgreSQL; the database is {conn.vendor}.",
            details={"field": "also"},
        )
    digest = _digest("debit", amount=amount, reference=reference)

    fields = {
        "actor": actor,
        "reason": reason,
        "reference": reference,
        "metadata": metadata,
        "idempotency_key": idempotency_key,
        "digest": digest,
    }

    def write() -> CreditTransaction:
        companions = _companions(
            TransactionKind.DEBIT, owner_id, -amount, actor, reason, reference, metadata, also
        )
        fast = True
        if (
            idempotency_key is None
            and conn.vendor == "postgresql"
            and (conn.in_atomic_block or not signals.ledger_entry_written.receivers)
        ):
            # One statement, atomic on its own: no transaction or savepoint around it. (With a
            # key, a replay's failed INSERT must roll back to a savepoint instead; receivers of
            # ledger_entry_written write in the debit's transaction, so outside the caller's
            # own transaction they need one.)
            entry = _fast_debit(owner_id, amount, fields, companions)
            if entry is not None:
                return entry
            fast = False
        with transaction.atomic():
            entry = _fast_debit(owner_id, amount, fields, companions) if fast else None
            if entry is not None:
                return entry
            account, allocations, _ = _consume(owner_id, amount, hold=False)
            return _record(
                account,
                TransactionKind.DEBIT,
                amount=-amount,
                allocations=_spent(allocations),
                companions=companions,
                **fields,
            )

    return _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)


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
    :func:`release_expired_holds` releases it."""
    owner_id = _owner_id(owner)
    actor = _actor(actor)
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
    reason, reference = _text(reason, "reason"), _text(reference, "reference")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    digest = _digest("hold", amount=amount, reference=reference)

    def write() -> CreditHold:
        with transaction.atomic():
            account, allocations, now = _consume(owner_id, amount, hold=True)
            reservation = CreditHold.objects.create(
                account=account,
                amount=amount,
                allocations=[[grant_id, display(value)] for grant_id, value in allocations],
                expires_at=now + timedelta(seconds=timeout),
                reference=reference,
            )
            _record(
                account,
                TransactionKind.HOLD,
                amount=ZERO,
                held_delta=amount,
                allocations=_spent(allocations),
                hold=reservation,
                actor=actor,
                reason=reason,
                reference=reference,
                metadata=metadata,
                idempotency_key=idempotency_key,
                digest=digest,
            )
            return reservation

    def replay(first: CreditTransaction) -> CreditHold:
        assert first.hold is not None
        return first.hold

    return _idempotent(owner_id, idempotency_key, digest, write, replay)


def _hold_allocations(reservation: CreditHold) -> Allocations:
    return [(int(grant_id), Decimal(value)) for grant_id, value in reservation.allocations]


def _settle(
    reservation: CreditHold,
    *,
    operation: str,
    captured: Decimal | None,
    state: str,
    actor: Any,
    reason: str,
    metadata: dict[str, Any] | None,
    idempotency_key: str | None,
) -> CreditTransaction:
    if not isinstance(reservation, CreditHold) or reservation.pk is None:
        raise InvalidArgument("hold must be a saved CreditHold.")
    actor = _actor(actor)
    reason = _text(reason, "reason")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    owner_id = (
        CreditAccount.objects.filter(pk=reservation.account_id)
        .values_list("owner_id", flat=True)
        .get()
    )
    digest = _digest(operation, hold=reservation.pk, amount=captured)

    def write() -> CreditTransaction:
        with transaction.atomic():
            account, now = _lock_account(owner_id)
            assert account is not None  # a hold's account exists
            current = CreditHold.objects.select_for_update().get(pk=reservation.pk)
            if current.state != HoldState.ACTIVE:
                settled = current.transactions.exclude(kind=TransactionKind.HOLD).first()
                if settled is not None and settled.request_digest == digest:
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
            returned = _uncaptured(_hold_allocations(current), keep)
            _return_to_grants(returned)
            account.balance -= keep
            account.held -= current.amount
            _store_account(account, now)
            CreditHold.objects.filter(pk=current.pk).update(
                state=state, captured=captured, settled_at=now
            )
            kind = TransactionKind.CAPTURE if captured is not None else TransactionKind.RELEASE
            return _record(
                account,
                kind,
                amount=-keep,
                held_delta=-current.amount,
                allocations=returned,
                hold=current,
                actor=actor,
                reason=reason,
                reference=current.reference,
                metadata=metadata,
                idempotency_key=idempotency_key,
                digest=digest,
            )

    return _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)


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
    return _settle(
        reservation,
        operation="capture",
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
    return _settle(
        reservation,
        operation="release",
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
    actor = _actor(actor)
    if entry.kind not in (TransactionKind.DEBIT, TransactionKind.CAPTURE) or entry.amount >= 0:
        raise InvalidOperation(
            f"Only debits and captures can be refunded, not a {entry.kind}.",
            details={"transaction": entry.pk},
        )
    requested = None if amount is None else to_amount(amount)
    reason = _text(reason, "reason")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    owner_id = entry.account.owner_id
    digest = _digest("refund", entry=entry.pk, amount=requested)

    def write() -> CreditTransaction:
        with transaction.atomic():
            account, now = _lock_account(owner_id)
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
            return _add_grant(
                account,
                now,
                TransactionKind.REFUND,
                source=GrantSource.REFUND,
                amount=value,
                refund_of=entry,
                actor=actor,
                reason=reason,
                reference=entry.reference,
                metadata=metadata,
                idempotency_key=idempotency_key,
                digest=digest,
            )

    return _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)


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
    owner_id = _owner_id(owner)
    actor = _actor(actor)
    change = to_signed_amount(amount)
    reason, reference = _text(reason, "reason"), _text(reference, "reference")
    if not reason.strip():
        raise InvalidArgument("An adjustment needs a reason.", details={"field": "reason"})
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    digest = _digest("adjust", amount=change, reference=reference)

    def write() -> CreditTransaction:
        with transaction.atomic():
            if change < 0:
                account, allocations, _ = _consume(owner_id, -change, hold=False)
                return _record(
                    account,
                    TransactionKind.ADJUSTMENT,
                    amount=change,
                    allocations=_spent(allocations),
                    actor=actor,
                    reason=reason,
                    reference=reference,
                    metadata=metadata,
                    idempotency_key=idempotency_key,
                    digest=digest,
                )
            account, now = _lock_new_or_existing_account(owner_id)
            return _add_grant(
                account,
                now,
                TransactionKind.ADJUSTMENT,
                source=GrantSource.ADMIN,
                amount=change,
                actor=actor,
                reason=reason,
                reference=reference,
                metadata=metadata,
                idempotency_key=idempotency_key,
                digest=digest,
            )

    return _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)


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
    actor = _actor(actor)
    requested = entry.amount if amount is None else to_amount(amount)
    if requested > entry.amount:
        raise InvalidOperation(
            f"The grant gave {display(entry.amount)} credits, so {display(requested)} cannot be "
            "revoked.",
            details={"transaction": entry.pk, "granted": display(entry.amount)},
        )
    reason = _text(reason, "reason")
    metadata = _metadata(metadata)
    check_idempotency_key(idempotency_key)
    owner_id = entry.account.owner_id
    grant_id: int = entry.grant_id
    digest = _digest("revoke", entry=entry.pk, amount=requested)

    def write() -> CreditTransaction:
        with transaction.atomic():
            account, now = _lock_account(owner_id)
            assert account is not None  # a grant's account exists
            # Credits past their expiry are gone already: they are not the ones taken back.
            _expire_account(account, now)
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
                allocations += _take_from_grants(account, others, now)
            taken = from_grant + max(others, ZERO)
            account.balance -= taken
            _store_account(account, now)
            return _record(
                account,
                TransactionKind.ADJUSTMENT,
                amount=-taken,
                allocations=_spent(allocations),
                actor=actor,
                reason=reason,
                reference=entry.reference,
                metadata={
                    **metadata,
                    "revoke": {
                        "grant_entry": entry.pk,
                        "requested": display(requested),
                        "shortfall": display(requested - taken),
                    },
                },
                idempotency_key=idempotency_key,
                digest=digest,
            )

    recorded = _idempotent(owner_id, idempotency_key, digest, write, lambda first: first)
    taken = quantize(-recorded.amount)
    return Revocation(recorded, quantize(requested), taken, quantize(requested) - taken)


# -- sweeps ------------------------------------------------------------------------------------


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
        due = due.filter(owner_id=_owner_id(owner))
    owner_ids = list(due.order_by("id").values_list("owner_id", flat=True))
    expired = 0
    for done, owner_id in enumerate(owner_ids, start=1):
        with transaction.atomic():
            account, _ = _lock_account(owner_id)
            if account is not None:
                expired += _expire_account(account, now)
        if progress is not None:
            progress(done, len(owner_ids))
    return expired


def _expire_account(account: CreditAccount, now: datetime) -> int:
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
    _store_account(account, now)
    _record(
        account,
        TransactionKind.EXPIRE,
        amount=-total,
        allocations=[(grant_id, -left) for grant_id, left in grants],
        reason="credits expired",
    )
    return len(grants)


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
            _settle(
                reservation,
                operation="release",
                captured=None,
                state=HoldState.EXPIRED,
                actor=None,
                reason="hold expired",
                metadata=None,
                idempotency_key=None,
            )
        except InvalidOperation:
            pass  # settled by its owner since the list was read: nothing left to release
        else:
            released += 1
        if progress is not None:
            progress(done, len(due))
    return released


# -- verification ---------------------------------------------------------------------------


def verify(owner: Owner = None, *, progress: Progress | None = None) -> list[Problem]:
    """Check every invariant of one owner's account, or of all accounts.

    The stored balance and held credits equal the sums of the entries; every entry's
    ``balance_after``/``held_after`` continue the running totals; the held credits equal the
    active holds; grant remainders equal their amount plus every allocation that touched them;
    the unallocated credits equal the fast debits not yet allocated; the balance equals the
    grants' remainders plus the held credits less the unallocated ones; no grant with credits
    left expires before the account's ``next_expiry``; nothing is negative.
    """
    accounts = CreditAccount.objects.order_by("id")
    if owner is not None:
        accounts = accounts.filter(owner_id=_owner_id(owner))
    ids = list(accounts.values_list("id", flat=True))
    problems: list[Problem] = []
    for done, account_id in enumerate(ids, start=1):
        problems.extend(_verify_account(account_id))
        if progress is not None:
            progress(done, len(ids))
    return problems


def _verify_account(account_id: int) -> list[Problem]:
    with transaction.atomic():
        # A consistent snapshot: no writer may change the account while it is checked.
        account = CreditAccount.objects.select_for_update().get(pk=account_id)
        problems: list[Problem] = []

        def problem(code: str, message: str) -> None:
            problems.append(Problem(account_id, code, message))

        running_balance = running_held = pending = ZERO
        grant_changes: dict[int, Decimal] = defaultdict(lambda: ZERO)
        granted: dict[int, Decimal] = {}
        spent: dict[int, Decimal] = {}
        refunded: dict[int, Decimal] = defaultdict(lambda: ZERO)
        entries = CreditTransaction.objects.filter(account_id=account_id).order_by("id")
        for entry in entries.iterator(chunk_size=2000):
            running_balance += entry.amount
            running_held += entry.held_delta
            if entry.balance_after != running_balance or entry.held_after != running_held:
                problem(
                    "running_total",
                    f"Entry {entry.pk} records balance {quantize(entry.balance_after)} / held "
                    f"{quantize(entry.held_after)}, but the entries before it add up to "
                    f"{quantize(running_balance)} / {quantize(running_held)}.",
                )
            if entry.grant_id is not None:
                granted[entry.grant_id] = entry.amount
            if entry.kind in (TransactionKind.DEBIT, TransactionKind.CAPTURE):
                spent[entry.pk] = -entry.amount
            if entry.refund_of_id is not None:
                refunded[entry.refund_of_id] += entry.amount
            if entry.kind == TransactionKind.ALLOCATION and (entry.amount or entry.held_delta):
                problem("allocation", f"Allocation entry {entry.pk} changes a balance.")
            if entry.kind == TransactionKind.DEBIT and not entry.allocations:
                pending -= entry.amount  # a fast debit: its credits await allocation
            for grant_id, value in entry.allocations:
                grant_changes[int(grant_id)] += Decimal(value)
                if entry.kind == TransactionKind.ALLOCATION:
                    pending += Decimal(value)
        if account.unallocated != pending:
            problem(
                "unallocated",
                f"{quantize(account.unallocated)} credits are recorded as unallocated, but the "
                f"entries leave {quantize(pending)}.",
            )
        if account.balance != running_balance:
            problem(
                "balance",
                f"Stored balance {quantize(account.balance)} differs from the sum of entries "
                f"{quantize(running_balance)}.",
            )
        if account.held != running_held:
            problem(
                "held",
                f"Stored held credits {quantize(account.held)} differ from the sum of entries "
                f"{quantize(running_held)}.",
            )
        if account.balance < 0 or account.held < 0 or account.held > account.balance:
            problem(
                "negative",
                f"Balance {quantize(account.balance)} / held {quantize(account.held)} is invalid.",
            )
        active = account.holds.filter(state=HoldState.ACTIVE).aggregate(total=Sum("amount"))
        if (active["total"] or ZERO) != account.held:
            problem(
                "holds",
                f"Active holds add up to {quantize(active['total'] or ZERO)}, "
                f"but {quantize(account.held)} is held.",
            )
        remaining = ZERO
        grants = account.grants.values_list("id", "amount", "remaining", "expires_at")
        for grant_id, amount, left, expires_at in grants:
            remaining += left
            if granted.get(grant_id) != amount:
                problem(
                    "grant_amount",
                    f"Grant {grant_id} holds {display(amount)}, but no entry granted that amount.",
                )
            if (
                left > 0
                and expires_at is not None
                and (account.next_expiry is None or account.next_expiry > expires_at)
            ):
                problem(
                    "next_expiry",
                    f"Grant {grant_id} expires at {expires_at.isoformat()}, before the account's "
                    f"next expiry {account.next_expiry and account.next_expiry.isoformat()}.",
                )
            expected = amount + grant_changes.pop(grant_id, ZERO)
            if left != expected or left < 0 or left > amount:
                problem(
                    "grant",
                    f"Grant {grant_id} has {quantize(left)} left, "
                    f"but its entries leave {quantize(expected)}.",
                )
        for grant_id in grant_changes:
            problem("grant", f"Entries touch grant {grant_id}, which is not this account's.")
        for entry_id, total in refunded.items():
            if total > spent.get(entry_id, ZERO):
                problem(
                    "refunds",
                    f"Entry {entry_id} was refunded {display(total)}, more than it spent.",
                )
        for reservation in account.holds.filter(state=HoldState.ACTIVE):
            taken = sum((value for _, value in _hold_allocations(reservation)), ZERO)
            if taken != reservation.amount:
                problem(
                    "hold",
                    f"Hold {reservation.pk} took {quantize(taken)} from grants but holds "
                    f"{quantize(reservation.amount)}.",
                )
        if remaining + account.held - account.unallocated != account.balance:
            problem(
                "grants_total",
                f"Grants hold {quantize(remaining)}, holds {quantize(account.held)} and "
                f"{quantize(account.unallocated)} is unallocated, which does not add up to the "
                f"balance {quantize(account.balance)}.",
            )
        return problems


def sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Expire due grants and release expired holds; what the periodic task runs."""
    now = now or timezone.now()
    return {"expired_grants": expire_due(now=now), "released_holds": release_expired_holds(now=now)}

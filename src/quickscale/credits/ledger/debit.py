"""Spending credits now: :func:`debit`, the ledger's hot path, and :func:`lock_available`.

A debit made while no grant of the account is about to expire changes only the account row and
appends its entry: the credits it spent are added to ``CreditAccount.unallocated``, and the next
write that needs exact grant remainders (a grant, a hold, an expiry...) first takes them from
the grants in consumption order and records that in an ``allocation`` entry. The grants those
debits would have used are the same, because no grant expired and none was added in between.

On PostgreSQL that change is ONE statement, private to this module: the conditional UPDATE of
the account and the INSERT of its entry joined in a data-modifying ``WITH``, prepared once per
connection. Elsewhere it is the same change in three ORM statements under the account's lock.
When a grant is about to expire, the debit takes the exact path every other write takes.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

from django.db import connections
from django.utils import timezone

from quickscale.core.db import fetch_one
from quickscale.credits.amounts import to_amount
from quickscale.credits.exceptions import InsufficientCredits, InvalidOperation
from quickscale.credits.ledger.allocation import ZERO, spent
from quickscale.credits.ledger.arguments import Common, Owner, common, digest, owner_id
from quickscale.credits.ledger.writing import (
    announce,
    atomic,
    database,
    expire_account,
    idempotent,
    insufficient_credits,
    lock_account,
    record,
    try_consume,
)
from quickscale.credits.models import CreditAccount, CreditTransaction, TransactionKind


def debit(
    owner: Owner,
    amount: Decimal | int,
    *,
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> CreditTransaction:
    """Spend credits now. Raises ``InsufficientCredits`` (and changes nothing) when the
    available credits do not cover ``amount``.

    It runs in a transaction of its own, or in the caller's: a row that records what the
    credits paid for (a service run) is written in the same ``atomic()`` block and commits
    with the debit, or neither does.
    """
    key = owner_id(owner)
    amount = to_amount(amount)
    shared = common(actor, reason, reference, metadata, idempotency_key)
    fingerprint = digest("debit", amount=amount, reference=shared.reference)

    def write() -> CreditTransaction:
        # Inside the caller's transaction, a savepoint only where a replay needs one (an
        # idempotency key): a refusal is raised once the block is left, so it changes nothing.
        with atomic(savepoint=idempotency_key is not None):
            outcome = _without_grants(key, amount, shared, fingerprint) or _with_grants(
                key, amount, shared, fingerprint
            )
        if isinstance(outcome, InsufficientCredits):
            raise outcome
        return outcome

    return idempotent(key, shared, fingerprint, write)


def lock_available(owner: Owner, amount: Decimal | int) -> Decimal:
    """Lock the owner's account until the caller's transaction ends, and return its available
    credits; raise ``InsufficientCredits`` when they do not cover ``amount``.

    Work that is paid for only once it is done (an inline service run) calls this first, in
    the ``atomic()`` block that will debit it: concurrent work of one owner then runs one at a
    time, and never more often than the credits pay for. Grants past their expiry are expired
    first, so the figure is the one the debit will find.
    """
    key = owner_id(owner)
    amount = to_amount(amount, allow_zero=True)
    conn = connections[database()]
    if not conn.in_atomic_block:
        raise InvalidOperation("lock_available() must be called inside transaction.atomic().")
    if _statements_of_its_own(conn):
        row = fetch_one(conn, _lock_statement(), [key])
    else:
        row = (
            CreditAccount.objects.select_for_update()
            .filter(owner_id=key)
            .values_list("balance", "held", "next_expiry")
            .first()
        )
    if row is None:
        if amount:
            raise insufficient_credits(ZERO, amount)
        return ZERO
    stored, held, next_expiry = row
    if next_expiry is not None and next_expiry <= timezone.now():
        account, now = lock_account(key)
        assert account is not None
        expire_account(account, now)
        stored, held = account.balance, account.held
    available = stored - held
    if available < amount:
        raise insufficient_credits(available, amount)
    return available


def _with_grants(
    owner_key: Any, amount: Decimal, shared: Common, fingerprint: str
) -> CreditTransaction | InsufficientCredits:
    """The exact path every other write takes: lock, expire what is due, take ``amount`` from
    the grants in consumption order. A refusal is returned, for the caller to raise once out of
    the transaction block."""
    outcome = try_consume(owner_key, amount, hold=False)
    if isinstance(outcome, InsufficientCredits):
        return outcome
    account, allocations, _ = outcome
    return record(
        account,
        TransactionKind.DEBIT,
        amount=-amount,
        allocations=spent(allocations),
        common=shared,
        digest=fingerprint,
    )


def _without_grants(
    owner_key: Any, amount: Decimal, shared: Common, fingerprint: str
) -> CreditTransaction | None:
    """Debit without touching grants while none is about to expire, or return ``None``
    (changing nothing) for the exact path to run."""
    conn = connections[database()]
    if not _statements_of_its_own(conn):
        account = CreditAccount.objects.select_for_update().filter(owner_id=owner_key).first()
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
        return record(
            account, TransactionKind.DEBIT, amount=-amount, common=shared, digest=fingerprint
        )
    now = timezone.now()
    actor = shared.actor
    row = fetch_one(
        conn,
        _statement(),
        [
            owner_key,
            amount,
            amount,
            now,
            amount,
            now,
            -amount,  # the entry
            actor.pk if actor is not None else None,
            shared.reason,
            shared.reference,
            json.dumps(shared.metadata),
            shared.idempotency_key,
            fingerprint,
            now,
        ],
    )
    if row is None:
        return None
    entry_id, *account_row = row
    account = CreditAccount.from_db(conn.alias, _account_names(), account_row)
    entry = CreditTransaction(
        id=entry_id,
        account=account,
        kind=TransactionKind.DEBIT,
        amount=-amount,
        held_delta=ZERO,
        balance_after=account.balance,
        held_after=account.held,
        allocations=[],
        actor=actor,
        reason=shared.reason,
        reference=shared.reference,
        metadata=shared.metadata,
        idempotency_key=shared.idempotency_key,
        request_digest=fingerprint,
        created_at=now,
    )
    entry._state.adding = False
    entry._state.db = conn.alias
    announce(entry, account)
    return entry


def _statements_of_its_own(conn: Any) -> bool:
    """Whether the ledger runs its own statements on ``conn`` (PostgreSQL), rather than the
    same work through the ORM: the one place that asks which database this is."""
    return bool(conn.vendor == "postgresql")


@functools.cache
def _lock_statement() -> str:
    """Lock an owner's account row and read what :func:`lock_available` checks."""
    return (
        "SELECT balance, held, next_expiry "  # noqa: S608
        f"FROM {CreditAccount._meta.db_table} WHERE owner_id = %s FOR UPDATE"
    )


@functools.cache
def _account_names() -> list[str]:
    return [field.attname for field in CreditAccount._meta.concrete_fields]


@functools.cache
def _statement() -> str:
    """The debit's one statement, with positional parameters; it returns the entry's id and
    the account row as updated, or no row when the exact path must run."""
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
        f"SELECT id, next_expiry FROM {accounts} WHERE owner_id = %s FOR UPDATE), "
        f"a AS (UPDATE {accounts} SET balance = balance - %s, "
        "unallocated = unallocated + %s, updated_at = %s FROM l "
        f"WHERE {accounts}.id = l.id AND balance - held >= %s AND (l.next_expiry IS NULL "
        "OR l.next_expiry > %s + (clock_timestamp() - statement_timestamp())) "
        f"RETURNING {accounts}.*), "
        f"e AS (INSERT INTO {entries} (account_id, kind, amount, held_delta, "
        "balance_after, held_after, allocations, actor_id, reason, reference, metadata, "
        "idempotency_key, request_digest, created_at) SELECT a.id, 'debit', %s, 0, a.balance, "
        "a.held, '[]', %s, %s, %s, %s::jsonb, %s, %s, %s FROM a RETURNING id) "
        f"SELECT e.id, {columns} FROM a, e"
    )

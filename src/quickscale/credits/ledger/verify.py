"""Checking the ledger: :func:`verify` finds every broken invariant, account by account."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from quickscale.credits.amounts import display, quantize
from quickscale.credits.ledger.allocation import ZERO, hold_allocations
from quickscale.credits.ledger.arguments import Owner, owner_id
from quickscale.credits.ledger.sweeps import Progress
from quickscale.credits.ledger.writing import atomic
from quickscale.credits.models import CreditAccount, CreditTransaction, HoldState, TransactionKind


@dataclass(frozen=True)
class Problem:
    """A broken ledger invariant found by :func:`verify`."""

    account_id: int
    code: str
    message: str


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
        accounts = accounts.filter(owner_id=owner_id(owner))
    ids = list(accounts.values_list("id", flat=True))
    problems: list[Problem] = []
    for done, account_id in enumerate(ids, start=1):
        problems.extend(_verify_account(account_id))
        if progress is not None:
            progress(done, len(ids))
    return problems


def _verify_account(account_id: int) -> list[Problem]:
    with atomic():
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
            taken = sum((value for _, value in hold_allocations(reservation)), ZERO)
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

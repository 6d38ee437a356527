"""The ledger's async entry points (``adebit``, ``agrant``...) behave as the synchronous ones.

Each scenario runs twice, once through the synchronous functions and once through their async
twins (driven by ``async_to_sync``, as a synchronous caller of async code does), and expects
the same results, exceptions and balances.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import CreditTransaction, HoldState

D = Decimal
OPERATIONS = [
    "adjust",
    "balance",
    "breakdown",
    "capture",
    "debit",
    "expire_due",
    "get_account",
    "grant",
    "grants",
    "hold",
    "refund",
    "release",
    "release_expired_holds",
    "revoke",
    "statement",
    "sweep",
    "verify",
]

Call = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def call(request: pytest.FixtureRequest) -> Call:
    """``call("debit", user, 3)``: the synchronous operation, or its async twin awaited."""

    def sync(name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(ledger, name)(*args, **kwargs)

    def asynchronous(name: str, *args: Any, **kwargs: Any) -> Any:
        twin = getattr(ledger, f"a{name}")
        assert inspect.iscoroutinefunction(twin)
        return async_to_sync(twin)(*args, **kwargs)

    return sync if request.param == "sync" else asynchronous


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_public_operation_has_an_async_twin_with_its_signature(name: str) -> None:
    operation = getattr(ledger, name)
    twin = getattr(ledger, f"a{name}")

    assert f"a{name}" in ledger.__all__
    assert twin.__name__ == f"a{name}"
    assert inspect.iscoroutinefunction(twin)
    assert inspect.signature(twin) == inspect.signature(operation)
    assert twin.__doc__.startswith(f"Async :func:`{name}`")


@pytest.mark.django_db(transaction=True)
def test_a_debit_spends_credits_and_records_its_entry(user: Any, call: Call) -> None:
    call("grant", user, 10, source="purchase")

    entry = call("debit", user, D("3.50"), reason="api call", reference="req-1")

    assert isinstance(entry, CreditTransaction)
    assert (entry.kind, entry.amount, entry.balance_after) == ("debit", D("-3.50"), D("6.50"))
    assert (entry.reason, entry.reference) == ("api call", "req-1")
    assert CreditTransaction.objects.get(pk=entry.pk).amount == D("-3.50")
    assert call("balance", user) == ledger.Balance(D("6.50"), D(0), D("6.50"))
    assert call("verify") == []


@pytest.mark.django_db(transaction=True)
def test_a_refused_debit_raises_the_same_exception_and_changes_nothing(
    user: Any, call: Call
) -> None:
    call("grant", user, 5, source="purchase")

    with pytest.raises(InsufficientCredits) as raised:
        call("debit", user, 6, idempotency_key="order-1")

    assert raised.value.code == "insufficient_credits"
    assert raised.value.details == {"available": "5.00", "required": "6.00"}
    assert call("balance", user).available == D(5)
    assert list(CreditTransaction.objects.values_list("kind", flat=True)) == ["grant"]
    # The refusal took no key: the same key pays once the credits are there.
    call("grant", user, 1, source="purchase")
    assert call("debit", user, 6, idempotency_key="order-1").amount == D(-6)
    assert call("balance", user).available == D(0)


@pytest.mark.django_db(transaction=True)
def test_a_retry_with_the_same_key_is_charged_once(user: Any, call: Call) -> None:
    call("grant", user, 10, source="purchase")

    first = call("debit", user, 4, idempotency_key="order-7")
    again = call("debit", user, 4, idempotency_key="order-7")

    assert again.pk == first.pk
    assert CreditTransaction.objects.filter(kind="debit").count() == 1
    assert call("balance", user).available == D(6)
    with pytest.raises(IdempotencyConflict):
        call("debit", user, 5, idempotency_key="order-7")
    assert call("balance", user).available == D(6)


@pytest.mark.django_db(transaction=True)
def test_holds_refunds_and_reads(user: Any, call: Call) -> None:
    grant = call("grant", user, 10, source="purchase")
    reservation = call("hold", user, 4, timeout=60)
    assert call("balance", user) == ledger.Balance(D(10), D(4), D(6))

    call("capture", reservation, 3)
    reservation.refresh_from_db()
    assert reservation.state == HoldState.CAPTURED
    other = call("hold", user, 2, timeout=60)
    call("release", other)
    debit = call("debit", user, 2)
    call("refund", debit, 1)
    call("adjust", user, -1, reason="correction")

    assert call("balance", user) == ledger.Balance(D(5), D(0), D(5))
    assert call("breakdown", user) == {"purchase": D(4), "refund": D(1)}
    assert sorted(g.remaining for g in call("grants", user)) == [D(1), D(4)]
    page = call("statement", user, limit=3)
    assert [e.kind for e in page.items] == ["adjustment", "refund", "debit"]
    assert page.next_cursor is not None
    assert call("get_account", user).balance == D(5)
    revocation = call("revoke", grant, reason="chargeback")
    assert revocation.taken == D(5)
    assert call("sweep") == {"expired_grants": 0, "released_holds": 0}
    assert call("verify") == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_async_debits_never_spend_more_than_the_balance(user: Any) -> None:
    ledger.grant(user, 5, source="purchase")

    async def spend_ten_times() -> list[Any]:
        calls = [ledger.adebit(user, 1, reference=f"req-{n}") for n in range(10)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = async_to_sync(spend_ten_times)()

    assert sum(isinstance(o, CreditTransaction) for o in outcomes) == 5
    assert sum(isinstance(o, InsufficientCredits) for o in outcomes) == 5
    assert ledger.balance(user).available == D(0)
    assert ledger.verify() == []


@pytest.mark.django_db(transaction=True)
def test_called_from_a_synchronous_transaction_an_async_debit_joins_it(user: Any) -> None:
    ledger.grant(user, 5, source="purchase")

    seen: list[Decimal] = []

    def debit_then_give_up() -> None:
        with transaction.atomic():
            async_to_sync(ledger.adebit)(user, 2)
            seen.append(ledger.balance(user).available)  # the same connection sees it
            raise RuntimeError("the caller gives up")

    with pytest.raises(RuntimeError, match="gives up"):
        debit_then_give_up()

    assert seen == [D(3)]
    assert ledger.balance(user).available == D(5)
    assert CreditTransaction.objects.filter(kind="debit").count() == 0

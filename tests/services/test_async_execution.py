"""``aexecute`` and the other async entry points of services behave as the synchronous ones.

Driven by ``async_to_sync``, as a synchronous caller of async code does; the ASGI server test
(``test_async_asgi.py``) drives them from ``async def`` views under uvicorn.
"""

from __future__ import annotations

import inspect
from decimal import Decimal as D
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import CreditTransaction
from quickscale.services import execution
from quickscale.services.exceptions import InvalidInput, ServiceNotFound
from quickscale.services.models import ServiceRun

aexecute = async_to_sync(execution.aexecute)


@pytest.fixture
def funded(user: Any) -> Any:
    ledger.grant(user, 10, source="purchase")
    return user


@pytest.mark.parametrize(
    ("name", "operation"),
    [("aexecute", "execute"), ("aenabled_services", "enabled_services"), ("ausage", "usage")],
)
def test_the_async_twins_have_the_signatures_of_the_functions_they_run(
    name: str, operation: str
) -> None:
    twin = getattr(execution, name)

    assert name in execution.__all__
    assert inspect.iscoroutinefunction(twin)
    assert inspect.signature(twin) == inspect.signature(getattr(execution, operation))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("slug", "kind", "left"), [("word-count", "debit", 9), ("echo", "capture", 8)]
)
def test_an_async_run_is_charged_as_a_synchronous_one(
    funded: Any, slug: str, kind: str, left: int
) -> None:
    run = aexecute(funded, slug, {"text": "one two"})

    assert isinstance(run, ServiceRun)
    assert run.status == "succeeded"
    assert run.charge is not None and run.charge.kind == kind
    assert ledger.balance(funded).available == left
    assert ledger.verify() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", ["explodes", "explodes-inline"])
def test_an_async_run_that_fails_costs_nothing(funded: Any, slug: str) -> None:
    run = aexecute(funded, slug, {})

    assert (run.status, run.cost) == ("failed", 0)
    assert ledger.balance(funded) == ledger.Balance(D(10), D(0), D(10))
    assert not CreditTransaction.objects.filter(kind__in=["debit", "capture"]).exists()


@pytest.mark.django_db(transaction=True)
def test_an_async_run_is_refused_with_the_same_exceptions(user: Any) -> None:
    ledger.grant(user, 1, source="purchase")

    with pytest.raises(InsufficientCredits) as raised:
        aexecute(user, "echo", {"text": "hello"})
    assert raised.value.details == {"available": "1.00", "required": "2.00"}
    with pytest.raises(InvalidInput):
        aexecute(user, "word-count", {})
    with pytest.raises(ServiceNotFound):
        aexecute(user, "no-such-service", {})

    assert not ServiceRun.objects.exists()
    assert ledger.balance(user).available == 1


@pytest.mark.django_db(transaction=True)
def test_an_async_retry_with_its_key_returns_the_first_run_and_charges_once(funded: Any) -> None:
    first = aexecute(funded, "word-count", {"text": "a b"}, idempotency_key="req-1")
    again = aexecute(funded, "word-count", {"text": "a b"}, idempotency_key="req-1")

    assert (again.pk, again.replayed, first.replayed) == (first.pk, True, False)
    assert ServiceRun.objects.count() == 1
    assert ledger.balance(funded).available == 9
    with pytest.raises(IdempotencyConflict):
        aexecute(funded, "word-count", {"text": "other"}, idempotency_key="req-1")


@pytest.mark.django_db(transaction=True)
def test_the_async_catalog_and_usage_are_the_synchronous_ones(funded: Any) -> None:
    aexecute(funded, "word-count", {"text": "a b"})

    assert async_to_sync(execution.ausage)(funded) == execution.usage(funded)
    catalog = async_to_sync(execution.aenabled_services)()
    assert [entry.slug for _, entry in catalog] == [
        entry.slug for _, entry in execution.enabled_services()
    ]

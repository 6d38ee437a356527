"""Inline runs are charged after they run: what they said they cost, with the run's record, all
or nothing; a run the user cannot pay for never starts, and one whose charge fails is recorded
as failed at no cost."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth.models import Group

from quickscale.credits import ledger
from quickscale.credits.exceptions import InsufficientCredits
from quickscale.services.base import BaseService, RunContext
from quickscale.services.execution import execute
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.registry import registry

#: What the services of this module did when they ran.
calls: list[str] = []


class Quiet(BaseService):
    """Inline, 2 credits, sends no SQL."""

    slug = "test-quiet"
    name = "Quiet"
    cost = D(2)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        calls.append(self.slug)
        return {"ok": True}


class Writes(BaseService):
    """Inline, 2 credits, writes a row, and spends the user's credits itself first."""

    slug = "test-writes"
    name = "Writes"
    cost = D(2)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        calls.append(self.slug)
        Group.objects.create(name="written by the run")
        if data.get("spend"):
            ledger.debit(ctx.user, ledger.balance(ctx.user).available, reason="spent meanwhile")
        return {"ok": True}


# Defining a service registers it; these are registered only while this module's tests run, so
# the test database's catalog (synced when it is created) does not list them for every other test.
for _service in (Quiet, Writes):
    registry.unregister(_service.slug)


@pytest.fixture(autouse=True)
def services() -> Iterator[None]:
    for service in (Quiet, Writes):
        registry.register(service)
    calls.clear()
    try:
        yield
    finally:
        for service in (Quiet, Writes):
            registry.unregister(service.slug)


def test_a_run_the_user_cannot_pay_for_never_starts(user: Any) -> None:
    ledger.grant(user, 1, source="purchase")

    with pytest.raises(InsufficientCredits, match=r"2\.00 credits are needed but only 1\.00"):
        execute(user, "test-quiet", {})

    assert calls == []
    assert not ServiceRun.objects.exists()
    assert ledger.balance(user).available == D(1)


def test_a_user_without_an_account_is_refused_before_the_run(user: Any) -> None:
    with pytest.raises(InsufficientCredits, match=r"only 0\.00 are available"):
        execute(user, "test-quiet", {})

    assert calls == []


def test_a_run_is_charged_with_its_record_and_names_its_debit(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    run = execute(user, "test-writes", {})

    stored = ServiceRun.objects.get(pk=run.pk)
    assert stored.status == RunStatus.SUCCEEDED
    assert stored.charge is not None and stored.charge.amount == D(-2)
    assert stored.charge.reference == f"quickscale.services:run:{run.pk}"
    assert run.balance_after == D(8) == ledger.balance(user).available
    assert Group.objects.filter(name="written by the run").exists()
    assert ledger.verify(user) == []


def test_when_the_charge_fails_after_the_run_it_is_recorded_failed_and_its_writes_undone(
    user: Any,
) -> None:
    ledger.grant(user, 10, source="purchase")

    run = execute(user, "test-writes", {"spend": True})

    assert calls == ["test-writes"]  # it ran: the credits were there when it started
    assert run.status == RunStatus.FAILED and run.cost == 0
    assert "InsufficientCredits" in run.error
    assert not Group.objects.exists()  # its row and its own debit went with the charge
    assert list(ServiceRun.objects.values_list("status", "charge")) == [(RunStatus.FAILED, None)]
    assert ledger.balance(user).available == D(10)
    assert ledger.verify(user) == []


def test_a_keyed_run_is_recorded_once_and_replayed(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    run = execute(user, "test-quiet", {}, idempotency_key="order-1")
    again = execute(user, "test-quiet", {}, idempotency_key="order-1")

    assert again.pk == run.pk and again.replayed
    assert calls == ["test-quiet"]
    stored = ServiceRun.objects.get(pk=run.pk)
    assert (stored.status, stored.cost, stored.output) == (RunStatus.SUCCEEDED, D(2), {"ok": True})
    assert stored.charge is not None and stored.charge.amount == D(-2)
    assert stored.finished_at is not None and stored.duration_ms is not None
    assert ledger.balance(user).available == D(8)
    assert ledger.verify(user) == []

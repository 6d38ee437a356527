"""Inline runs are charged after they run: what they said they cost, with the run's record, all
or nothing; a run the user cannot pay for never starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections

from quickscale.credits import ledger
from quickscale.credits.exceptions import InsufficientCredits
from quickscale.services.base import BaseService, RunContext
from quickscale.services.execution import execute
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.registry import registry
from tests.roundtrips import wire

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


class SpentElsewhere(BaseService):
    """Inline, 2 credits, sends no SQL itself while another connection spends everything."""

    slug = "test-spent-elsewhere"
    name = "Spent elsewhere"
    cost = D(2)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        calls.append(self.slug)

        def spend() -> None:
            try:
                ledger.debit(ctx.user.pk, ledger.balance(ctx.user.pk).available)
            finally:
                connections.close_all()

        other = threading.Thread(target=spend)
        other.start()
        other.join()
        return {"ok": True}


# Defining a service registers it; these are registered only while this module's tests run, so
# the test database's catalog (synced when it is created) does not list them for every other test.
for _service in (Quiet, Writes, SpentElsewhere):
    registry.unregister(_service.slug)


@pytest.fixture(autouse=True)
def services() -> Iterator[None]:
    for service in (Quiet, Writes, SpentElsewhere):
        registry.register(service)
    calls.clear()
    try:
        yield
    finally:
        for service in (Quiet, Writes, SpentElsewhere):
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


def test_when_the_charge_fails_after_the_run_its_writes_are_rolled_back(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(InsufficientCredits):
        execute(user, "test-writes", {"spend": True})

    assert calls == ["test-writes"]  # it ran: the credits were there when it started
    assert not Group.objects.exists()  # its row and its own debit went with the charge
    assert not ServiceRun.objects.exists()
    assert ledger.balance(user).available == D(10)
    assert ledger.verify(user) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_quiet_run_is_charged_and_recorded_by_one_statement(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    execute(user, "test-quiet", {})  # the catalog row is made, the statements are built
    with wire(connection) as sent:
        run = execute(user, "test-quiet", {})

    # The catalog row with the run's id and the credits available, then the charge: the debit,
    # its entry and the run in one statement, with no BEGIN or COMMIT around it.
    assert sent.round_trips == 2, [sql[:70] for sql in sent.sent]
    assert "nextval" in sent.sent[0]
    assert "quickscale_entry" in sent.sent[1]
    assert "INSERT INTO" in sent.sent[1] and "quickscale_services_servicerun" in sent.sent[1]
    stored = ServiceRun.objects.get(pk=run.pk)
    assert stored.status == RunStatus.SUCCEEDED
    assert stored.charge_id == run.charge_id
    assert ledger.balance(user).available == D(6)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_keyed_run_is_written_first_and_finished_by_its_debits_statement(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    execute(user, "test-quiet", {}, idempotency_key="warm-up")  # the statements are built
    with wire(connection) as sent:
        run = execute(user, "test-quiet", {}, idempotency_key="order-1")

    # The replay check, the catalog row, the run written first (a retry with the same key
    # waits on it), then the debit that also finishes the run, and the commit.
    statements = [sql for sql in sent.sent if sql not in ("BEGIN", "COMMIT")]
    assert len(statements) == 4, [sql[:70] for sql in statements]
    assert statements[2].startswith("INSERT INTO") and "servicerun" in statements[2]
    finish = statements[3]
    assert "quickscale_entry" in finish and "UPDATE" in finish and "servicerun" in finish
    assert sent.sent[-1] == "COMMIT"
    stored = ServiceRun.objects.get(pk=run.pk)
    assert (stored.status, stored.cost, stored.output) == (RunStatus.SUCCEEDED, D(2), {"ok": True})
    assert stored.charge_id == run.charge_id is not None
    assert stored.charge.amount == D(-2)
    assert stored.finished_at is not None and stored.duration_ms is not None
    assert execute(user, "test-quiet", {}, idempotency_key="order-1").pk == run.pk  # a replay
    assert ledger.balance(user).available == D(6)
    assert ledger.verify(user) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_quiet_run_whose_credits_went_meanwhile_records_and_charges_nothing(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(InsufficientCredits):
        execute(user, "test-spent-elsewhere", {})

    assert calls == ["test-spent-elsewhere"]
    assert not ServiceRun.objects.exists()
    assert ledger.balance(user).available == D(0)  # spent by the other connection only
    assert ledger.verify(user) == []

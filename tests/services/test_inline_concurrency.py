"""Concurrent inline runs never run for free: against a balance for N, a service's side effect
happens at most N times, whatever the number of runs sent at once (PostgreSQL, real threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from django.db import connection

from quickscale.credits import ledger
from quickscale.credits.exceptions import InsufficientCredits
from quickscale.services.base import BaseService, RunContext
from quickscale.services.execution import execute
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.registry import registry

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

RUNS = 32
#: Every side effect the service had, e.g. a call that costs the operator money.
effects: list[int] = []
effects_lock = threading.Lock()


class CallsOut(BaseService):
    """Inline, 1 credit a run; each run has a side effect outside the database."""

    slug = "test-calls-out"
    name = "Calls out"
    cost = D(1)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        with effects_lock:
            effects.append(ctx.run.pk)
        return {"ok": True}


registry.unregister(CallsOut.slug)  # registered only while this module's tests run


@pytest.fixture(autouse=True)
def service() -> Iterator[None]:
    registry.register(CallsOut)
    effects.clear()
    try:
        yield
    finally:
        registry.unregister(CallsOut.slug)


def test_32_concurrent_inline_runs_against_a_balance_for_10_act_at_most_10_times(
    user: Any,
) -> None:
    ledger.grant(user, 10, source="purchase")
    execute(user, CallsOut.slug, {})  # the catalog row exists before the crowd arrives
    ledger.grant(user, 1, source="purchase")  # back to 10 runs' worth
    effects.clear()
    start = threading.Barrier(RUNS)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            start.wait()
            run = execute(user, CallsOut.slug, {})
            outcomes.append(run.status)
        except InsufficientCredits:
            outcomes.append("refused")
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(outcomes) == RUNS
    assert len(effects) <= 10
    assert outcomes.count(RunStatus.SUCCEEDED) == len(effects) == 10
    assert outcomes.count("refused") == RUNS - 10
    assert ServiceRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 11  # with the first
    assert ledger.balance(user).available == 0
    assert ledger.verify(user) == []


def test_concurrent_retries_with_one_idempotency_key_run_the_service_once(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    start = threading.Barrier(16)
    runs: list[int] = []
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            start.wait()
            runs.append(execute(user, CallsOut.slug, {}, idempotency_key="order-7").pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert len(runs) == 16 and len(set(runs)) == 1
    assert len(effects) == 1
    assert ledger.balance(user).available == 9
    assert ledger.verify(user) == []


class FailsOnce(BaseService):
    """Inline, 1 credit; its first run waits until a retry waits for the account, then fails."""

    slug = "test-fails-once"
    name = "Fails once"
    cost = D(1)
    mode = "inline"

    def run(self, ctx: RunContext, data: dict[str, Any]) -> Any:
        with effects_lock:
            effects.append(ctx.run.pk)
            first = len(effects) == 1
        if first:
            from tests.credits.test_concurrency import wait_until_a_statement_waits_for_a_lock

            wait_until_a_statement_waits_for_a_lock()
            raise RuntimeError("the model server is down")
        return {"ok": True}


registry.unregister(FailsOnce.slug)


def test_a_retry_waiting_while_the_first_run_fails_gets_the_failed_run(user: Any) -> None:
    registry.register(FailsOnce)
    try:
        ledger.grant(user, 10, source="purchase")
        runs: list[Any] = []
        errors: list[BaseException] = []

        def call() -> None:
            try:
                runs.append(execute(user, FailsOnce.slug, {}, idempotency_key="order-9"))
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        first = threading.Thread(target=call)
        first.start()
        while not effects:  # the first run is running, holding the account's lock
            threading.Event().wait(0.01)
        retry = threading.Thread(target=call)
        retry.start()
        first.join(60)
        retry.join(60)
    finally:
        registry.unregister(FailsOnce.slug)

    assert errors == []
    assert len(effects) == 1  # the service ran once for the key
    assert {run.pk for run in runs} == {effects[0]}
    assert [run.status for run in runs] == [RunStatus.FAILED, RunStatus.FAILED]
    assert ledger.balance(user).available == 10
    assert ledger.verify(user) == []

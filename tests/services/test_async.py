"""Services with ``run_async``: queued with their cost held, performed by a task worker.

The worker tests run a real ``db_worker`` process (django-tasks-db) against the test database,
so they need PostgreSQL; the immediate backend (the default ``TASKS``) works anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, CreditTransaction, HoldState
from quickscale.services import execution
from quickscale.services.exceptions import QueueUnavailable
from quickscale.services.models import RunStatus, ServiceRun
from tests.hostapp.services import AsyncSleeper
from tests.hostapp.tasks import ANSWER_LOST, UNREACHABLE
from tests.projects.tasks_worker import TASKS as DATABASE_TASKS

ROOT = Path(__file__).resolve().parents[2]
#: A backend that queues and never runs: the run waits as it would for a worker.
NO_WORKER = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
WORKER_SETTINGS = "tests.projects.tasks_worker"
TIMEOUT = 30  # seconds any wait may take before the test fails
#: ``manage.py db_worker`` polling every 50 ms, with no start-up delay and no autoreloader.
WORKER_COMMAND = [
    sys.executable,
    "-m",
    "django",
    "db_worker",
    "--interval",
    "0.05",
    "--no-startup-delay",
    "--no-reload",
    "--verbosity",
    "2",
]


@pytest.fixture
def funded(user: Any) -> Any:
    """A user with 5 credits: five runs of ``async-sleeper``."""
    ledger.grant(user, Decimal("5.00"), source="purchase")
    return user


@pytest.fixture
def database_tasks() -> Iterator[None]:
    """Enqueue into django-tasks-db, as a project running ``db_worker`` does."""
    with override_settings(TASKS=DATABASE_TASKS):
        yield


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``manage.py db_worker`` processes on the test database; killed afterwards."""
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}"
        f":{settings['PORT'] or '5432'}/{settings['NAME']}"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": WORKER_SETTINGS, "DATABASE_URL": database_url}
    started: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(started)}.log").open("wb")
        worker = subprocess.Popen(
            [*WORKER_COMMAND, *options],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=TIMEOUT)


def worker_log(tmp_path: Path) -> str:
    return "\n".join(log.read_text() for log in sorted(tmp_path.glob("worker-*.log")))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Gave up waiting {TIMEOUT} s for {what}.")
        time.sleep(0.05)


def status_of(run: ServiceRun) -> str:
    return str(ServiceRun.objects.values_list("status", flat=True).get(pk=run.pk))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_tasks")
def test_a_real_db_worker_performs_a_queued_run_and_charges_it_once(
    funded: Any, start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    run = execution.execute(funded, "async-sleeper", {"seconds": 0.1})

    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.hold is not None and run.hold.state == HoldState.ACTIVE
    assert DBTaskResult.objects.get().status == "READY"
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(1), Decimal(4))

    worker = start_worker("--batch")  # exits once no task is left
    assert worker.wait(timeout=TIMEOUT) == 0, worker_log(tmp_path)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, worker_log(tmp_path))
    assert run.output == {"slept": 0.1}
    assert run.cost == Decimal("1.00")
    assert run.charge is not None and run.charge.kind == "capture"
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.CAPTURED
    assert CreditTransaction.objects.filter(kind="capture").count() == 1
    assert ledger.balance(funded) == ledger.Balance(Decimal(4), Decimal(0), Decimal(4))
    assert ledger.verify() == []
    task_result = DBTaskResult.objects.get()
    assert (task_result.status, task_result.return_value) == ("SUCCESSFUL", "succeeded")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_tasks")
def test_a_run_whose_worker_was_killed_is_failed_and_refunded_by_the_sweep(
    funded: Any, start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    run = execution.execute(funded, "async-sleeper", {"seconds": 30})
    worker = start_worker()
    wait_for(lambda: status_of(run) == RunStatus.RUNNING, "the worker to start the run")

    worker.kill()  # SIGKILL in the middle of the service's sleep
    worker.wait(timeout=TIMEOUT)

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING, worker_log(tmp_path)
    assert run.hold is not None and run.hold.state == HoldState.ACTIVE
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(1), Decimal(4))

    assert execution.sweep_runs(now=run.hold.expires_at + timedelta(seconds=1)) == 1

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.cost == Decimal(0)
    assert run.error
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.EXPIRED
    assert CreditTransaction.objects.filter(kind="capture").count() == 0
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(0), Decimal(5))
    assert ledger.verify() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_tasks")
def test_a_run_whose_worker_was_killed_is_finished_within_its_timeout_and_a_grace(
    funded: Any, start_worker: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    run = execution.execute(funded, "async-sleeper", {"seconds": 30})
    worker = start_worker()
    wait_for(lambda: status_of(run) == RunStatus.RUNNING, "the worker to start the run")
    worker.kill()
    worker.wait(timeout=TIMEOUT)
    run.refresh_from_db()
    assert run.started_at is not None, worker_log(tmp_path)
    due = run.started_at + timedelta(seconds=AsyncSleeper.timeout + execution.HOLD_GRACE)
    assert run.hold is not None and due < run.hold.expires_at  # long before its hold ends

    assert execution.sweep_runs(now=due - timedelta(seconds=1)) == 0
    assert execution.sweep_runs(now=due) == 1

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.cost == Decimal(0)
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.RELEASED
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(0), Decimal(5))
    assert ledger.verify() == []


@pytest.mark.django_db(transaction=True)
def test_with_the_immediate_backend_an_async_run_is_performed_before_execute_returns(
    funded: Any,
) -> None:
    run = execution.execute(funded, "async-sleeper", {"seconds": 0})

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert run.output == {"slept": 0.0}
    assert not DBTaskResult.objects.exists()  # nothing was queued for a worker
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.CAPTURED
    assert ledger.balance(funded) == ledger.Balance(Decimal(4), Decimal(0), Decimal(4))
    assert ledger.verify() == []


@pytest.mark.django_db(transaction=True)
def test_with_the_immediate_backend_an_async_run_waits_for_the_callers_commit(
    funded: Any,
) -> None:
    with transaction.atomic():
        run = execution.execute(funded, "async-sleeper", {"seconds": 0})
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED
        assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.ACTIVE

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.CAPTURED
    assert ledger.balance(funded) == ledger.Balance(Decimal(4), Decimal(0), Decimal(4))
    assert ledger.verify() == []


@pytest.mark.django_db(transaction=True)
def test_a_run_the_task_backend_refuses_is_failed_at_no_cost_and_its_key_is_free(
    funded: Any,
) -> None:
    with override_settings(TASKS=UNREACHABLE), pytest.raises(QueueUnavailable) as refused:
        execution.execute(funded, "async-sleeper", {"seconds": 0}, idempotency_key="k-1")

    assert refused.value.code == "queue_unavailable"
    assert refused.value.retry_after == 10
    run = ServiceRun.objects.get()
    assert refused.value.details == {"retry_after": 10, "run": run.pk}
    assert (run.status, run.cost, run.idempotency_key) == (RunStatus.FAILED, 0, None)
    assert "could not be queued" in run.error
    assert run.hold is not None and run.hold.state == HoldState.RELEASED
    assert ledger.balance(funded).available == Decimal("5.00")

    # The client sends the same request again with the same key once the backend is back: a
    # new run, queued, not a replay of the refused one.
    with override_settings(TASKS=NO_WORKER):
        again = execution.execute(funded, "async-sleeper", {"seconds": 0}, idempotency_key="k-1")

    assert not again.replayed
    assert again.pk != run.pk
    assert status_of(again) == RunStatus.QUEUED
    assert ledger.balance(funded).available == Decimal("4.00")


@pytest.mark.django_db(transaction=True)
def test_a_refused_enqueue_inside_the_callers_transaction_fails_the_run_at_its_commit(
    funded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    after: list[str] = []
    with override_settings(TASKS=UNREACHABLE), transaction.atomic():
        run = execution.execute(funded, "async-sleeper", {"seconds": 0})
        # Another piece of work of the caller's, due at the same commit.
        transaction.on_commit(lambda: after.append("done"))

    # The caller's commit went through, and the work after the refusal was still done.
    assert after == ["done"]
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert ledger.balance(funded).available == Decimal("5.00")
    assert not CreditHold.objects.filter(state=HoldState.ACTIVE).exists()
    assert f"Run {run.pk} could not be queued" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_tasks")
def test_with_the_database_backend_the_task_is_queued_in_the_runs_own_transaction(
    funded: Any,
) -> None:
    seen: list[Any] = []

    def run_then_give_up() -> None:
        with transaction.atomic():
            run = execution.execute(funded, "async-sleeper", {"seconds": 0})
            # Inside the transaction, before any commit: the task is there beside the run.
            seen.extend([run.pk, [t.args_kwargs["args"][0] for t in DBTaskResult.objects.all()]])
            raise RuntimeError("the caller gives up")

    with pytest.raises(RuntimeError, match="gives up"):
        run_then_give_up()

    assert seen[1] == [seen[0]]
    # Rolled back together: no run, no hold and no task a worker would look for.
    assert not ServiceRun.objects.exists()
    assert not DBTaskResult.objects.exists()
    assert ledger.balance(funded).available == Decimal("5.00")


@pytest.mark.django_db(transaction=True)
def test_a_backend_that_took_the_run_but_raised_is_not_taken_for_a_refusal(
    funded: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(TASKS=ANSWER_LOST):
        run = execution.execute(funded, "async-sleeper", {"seconds": 0}, idempotency_key="k-2")

    # The worker (here, the immediate backend) ran and charged it: no 503 saying otherwise.
    assert (run.status, run.cost, run.idempotency_key) == (RunStatus.SUCCEEDED, 1, "k-2")
    assert ledger.balance(funded).available == Decimal("4.00")
    assert "yet a worker started it" in caplog.text

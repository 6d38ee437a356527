"""Services with ``run_async`` on a distributed task backend: django-tasks-rq, with a real
``rqworker`` process.

The run is queued in Redis (``REDIS_URL``) once its row and hold are committed, and a worker
started here (``manage.py rqworker --burst`` with django-tasks-rq's job class, settings
``tests/projects/rq_worker.py``) performs it against the test database, so these tests need
PostgreSQL as well as Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import django_rq
import pytest
from django.db import connection
from django.test import override_settings
from django_tasks import default_task_backend

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, CreditTransaction, HoldState
from quickscale.services import execution
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.registry import registry
from quickscale.services.tasks import perform_run
from tests.projects.rq_worker import RQ_QUEUES, TASKS
from tests.servers import database_url

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds the worker may take to empty the queue before the test fails
WORKER_COMMAND = [
    sys.executable,
    "-m",
    "django",
    "rqworker",
    "--burst",  # exits once the queue is empty
    "--job-class",
    "django_tasks_rq.Job",
    "--verbosity",
    "2",
    "default",
]

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def funded(user: Any) -> Any:
    ledger.grant(user, 5, source="purchase")
    return user


@pytest.fixture
def rq_tasks() -> Iterator[Any]:
    """Enqueue into RQ, as a project running ``rqworker`` does; the queue, emptied before and
    after."""
    # REDIS_URL read now, as the worker will read it (the worker's settings read it at start).
    queues = {"default": {**RQ_QUEUES["default"], "URL": os.environ["REDIS_URL"]}}
    with override_settings(TASKS=TASKS, RQ_QUEUES=queues):
        queue = django_rq.get_queue("default")
        forget_jobs(queue)
        try:
            yield queue
        finally:
            forget_jobs(queue)


def forget_jobs(queue: Any) -> None:
    """Delete the queue's jobs, waiting and done, so each test starts with none."""
    queue.empty()
    for done in (queue.finished_job_registry, queue.failed_job_registry):
        for job_id in done.get_job_ids():
            done.remove(job_id, delete_job=True)


@pytest.fixture
def exploding_service() -> Iterator[str]:
    """``async-explodes``, a ``run_async`` service that fails, registered in this process (the
    worker's project installs its app)."""
    from tests.projects.asyncapp.services import AsyncExplodes

    registry.register(AsyncExplodes)
    yield AsyncExplodes.slug
    registry.unregister(AsyncExplodes.slug)


def run_worker(tmp_path: Path) -> str:
    """Run ``rqworker --burst`` on the test database until the queue is empty; its output."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.projects.rq_worker",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    log = tmp_path / "rqworker.log"
    with log.open("wb") as out:
        worker = subprocess.run(
            WORKER_COMMAND,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT,
            check=False,
        )
    output = log.read_text(errors="replace")
    assert worker.returncode == 0, output
    return output


def test_a_real_rq_worker_performs_a_queued_run_and_charges_it_once(
    funded: Any, rq_tasks: Any, tmp_path: Path
) -> None:
    run = execution.execute(funded, "async-sleeper", {"seconds": 0.1})

    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(1), Decimal(4))
    [job_id] = rq_tasks.job_ids
    assert default_task_backend.get_result(job_id).args == [run.pk, {"seconds": 0.1}]
    # The same task delivered a second time, as a broker may: it must not run or charge again.
    duplicate = perform_run.enqueue(run.pk, {"seconds": 0.1})

    output = run_worker(tmp_path)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error, output)
    assert run.output == {"slept": 0.1}
    assert run.cost == Decimal("1.00")
    assert run.charge is not None and run.charge.kind == "capture"
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.CAPTURED
    assert CreditTransaction.objects.filter(kind="capture").count() == 1
    assert ledger.balance(funded) == ledger.Balance(Decimal(4), Decimal(0), Decimal(4))
    assert ledger.verify() == []
    first = default_task_backend.get_result(job_id)
    again = default_task_backend.get_result(duplicate.id)
    assert (first.status, first.return_value) == ("SUCCESSFUL", "succeeded")
    assert (again.status, again.return_value) == ("SUCCESSFUL", None)  # no longer queued
    assert rq_tasks.count == 0


def test_a_run_that_fails_in_the_rq_worker_charges_nothing(
    funded: Any, rq_tasks: Any, exploding_service: str, tmp_path: Path
) -> None:
    run = execution.execute(funded, exploding_service, {})
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(2), Decimal(3))
    [job_id] = rq_tasks.job_ids

    output = run_worker(tmp_path)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED, output
    assert run.cost == Decimal(0)
    assert "the model server is down" in run.error
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.RELEASED
    assert not CreditTransaction.objects.filter(kind__in=["capture", "debit"]).exists()
    assert ledger.balance(funded) == ledger.Balance(Decimal(5), Decimal(0), Decimal(5))
    assert ledger.verify() == []
    # The service failed, not the task: the failure is recorded on the run.
    result = default_task_backend.get_result(job_id)
    assert (result.status, result.return_value) == ("SUCCESSFUL", "failed")
    assert ServiceRun.objects.count() == 1

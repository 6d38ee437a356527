"""Many processes and threads running paid services for one account at once on PostgreSQL:
exactly as many runs start as the credits pay for, the others are refused without a trace,
and the ledger verifies."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, CreditTransaction, HoldState
from quickscale.services.models import RunStatus, ServiceRun

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES = 4
THREADS_PER_PROCESS = 8  # 32 calls in all
TIMEOUT = 60  # seconds any worker process may take


def current_database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


def run_everywhere_at_once(slug: str, owner_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Call ``execute(owner, slug, data)`` once from each of ``THREADS_PER_PROCESS`` threads in
    ``PROCESSES`` processes, released together once every thread is connected."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": current_database_url(),
    }
    command = [
        sys.executable,
        "-m",
        "tests.services.concurrent_worker",
        slug,
        str(owner_id),
        str(THREADS_PER_PROCESS),
        json.dumps(data),
    ]
    processes = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        deadline = time.monotonic() + TIMEOUT
        for process in processes:
            assert read_line(process, deadline) == "ready", process.communicate(timeout=5)[1]
        totals: dict[str, Any] = {"succeeded": 0, "refused": 0, "failed": 0, "errors": []}
        outputs = [process.communicate("go\n", timeout=TIMEOUT) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        for outcome, value in json.loads(out).items():
            totals[outcome] += value
    return totals


def read_line(process: subprocess.Popen[str], deadline: float) -> str:
    """The next line the process prints, waiting no later than ``deadline``."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError("The worker process did not get ready in time.")
    return process.stdout.readline().strip()


def test_concurrent_held_runs_start_exactly_as_many_as_the_balance_pays_for(user: Any) -> None:
    ledger.grant(user, Decimal("20.00"), source="purchase")  # echo costs 2.00: 10 runs

    totals = run_everywhere_at_once("echo", user.pk, {"text": "hi"})

    assert totals == {"succeeded": 10, "refused": 22, "failed": 0, "errors": []}
    runs = ServiceRun.objects.filter(service__slug="echo")
    assert runs.count() == 10  # refusals leave no run behind
    assert set(runs.values_list("status", "cost")) == {(RunStatus.SUCCEEDED, Decimal("2.00"))}
    assert CreditHold.objects.filter(state=HoldState.ACTIVE).count() == 0
    assert CreditHold.objects.filter(state=HoldState.CAPTURED).count() == 10
    assert CreditTransaction.objects.filter(kind="capture").count() == 10
    assert ledger.balance(user) == ledger.Balance(Decimal(0), Decimal(0), Decimal(0))
    assert ledger.verify() == []


def test_concurrent_inline_runs_debit_exactly_as_many_as_the_balance_pays_for(user: Any) -> None:
    ledger.grant(user, Decimal("10.00"), source="purchase")  # word-count costs 1.00: 10 runs

    totals = run_everywhere_at_once("word-count", user.pk, {"text": "hi"})

    assert totals == {"succeeded": 10, "refused": 22, "failed": 0, "errors": []}
    runs = ServiceRun.objects.filter(service__slug="word-count")
    assert runs.count() == 10  # refusals leave no run behind
    assert set(runs.values_list("status", "cost")) == {(RunStatus.SUCCEEDED, Decimal("1.00"))}
    assert CreditHold.objects.filter(state=HoldState.ACTIVE).count() == 0
    assert CreditTransaction.objects.filter(kind="debit").count() == 10
    assert ledger.balance(user) == ledger.Balance(Decimal(0), Decimal(0), Decimal(0))
    assert ledger.verify() == []

"""The one sweep (``quickscale.core.maintenance``, ``manage.py quickscale sweep``): every
installed app's upkeep, in order, each job on its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from quickscale.audit import chain
from quickscale.core import maintenance
from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, HoldState
from quickscale.services import execution
from quickscale.services.models import RunStatus, ServiceRun
from tests.api.outage.postgres import running
from tests.hostapp.services import AsyncSleeper

pytestmark = pytest.mark.django_db(transaction=True)

#: A backend that queues and never runs: the run waits as it would for a worker.
NO_WORKER = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


@pytest.fixture
def jobs_kept() -> Iterator[None]:
    """Jobs registered by a test are taken out again."""
    before = dict(maintenance._jobs)
    yield
    maintenance._jobs.clear()
    maintenance._jobs.update(before)


def test_the_sweep_runs_the_installed_apps_jobs_in_their_order() -> None:
    # Interrupted runs give their credits back before grants expire, so credits returned to a
    # grant past its expiry expire in the same sweep; the log is sealed last, with all of it.
    assert [job.name for job in maintenance.jobs()] == ["services", "credits", "billing", "audit"]


def interrupted_run(user: Any) -> ServiceRun:
    """A background run that a worker started and then died running: still running, its credit
    held."""
    with override_settings(TASKS=NO_WORKER):
        run = execution.execute(user, "async-sleeper", {"seconds": 1})
    ServiceRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    run.refresh_from_db()
    return run


def test_one_sweep_finishes_an_interrupted_run_expires_grants_and_seals_the_log(
    user: Any,
) -> None:
    ledger.grant(user, 5, source="purchase", expires_at=None)
    soon = timezone.now() + timedelta(minutes=1)
    ledger.grant(user, 2, source="promotion", expires_at=soon)
    run = interrupted_run(user)
    later = run.started_at + timedelta(seconds=AsyncSleeper.timeout + execution.HOLD_GRACE)

    done = maintenance.sweep(now=later)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert CreditHold.objects.get(pk=run.hold_id).state == HoldState.RELEASED
    assert done["credits"]["expired_grants"] == 1
    assert done["services"] == {"failed_runs": 1}
    assert done["audit"]["sealed"] > 0
    assert chain.unsealed() == 0
    assert ledger.balance(user).balance == Decimal(5)
    assert ledger.verify() == []


@pytest.mark.usefixtures("jobs_kept")
def test_a_failing_job_does_not_stop_the_others_and_the_sweep_says_which_failed(
    user: Any,
) -> None:
    def broken(now: Any) -> None:
        raise RuntimeError("the disk is full")

    maintenance.register("broken", broken, order=5)
    ledger.grant(user, 5, source="purchase", expires_at=None)
    run = interrupted_run(user)
    later = run.started_at + timedelta(seconds=AsyncSleeper.timeout + execution.HOLD_GRACE)

    with pytest.raises(maintenance.SweepFailed, match="broken part failed: the disk is full"):
        maintenance.sweep(now=later)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED  # the services' job ran after the broken one
    assert chain.unsealed() == 0  # and so did the audit log


def test_the_command_sweeps_once_and_says_what_it_did(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("quickscale", "sweep")

    printed = capsys.readouterr().out
    assert printed.startswith("Swept: services: {'failed_runs': 0}; credits: {'expired_grants'")


def test_the_command_sweeps_every_few_seconds_until_stopped(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, "-m", "django"]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    log = tmp_path / "sweep.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*manage, "quickscale", "sweep", "--every", "1"], env=env, stdout=output
        )
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Swept:") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert log.read_text().count("Swept:") >= 2


def test_the_repeating_sweep_carries_on_after_a_database_restart(tmp_path: Path) -> None:
    """A real PostgreSQL of the test's own, restarted under ``sweep --every 1``: the passes
    during the outage fail and say so, and the first pass after it sweeps again (on a new
    connection: the old one was cut by the restart)."""
    with running() as database:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database.url,
        }
        manage = [sys.executable, "-m", "django"]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)
        out, err = tmp_path / "sweep.out", tmp_path / "sweep.err"
        with out.open("w") as stdout, err.open("w") as stderr:
            process = subprocess.Popen(
                [*manage, "quickscale", "sweep", "--every", "1"],
                env=env,
                stdout=stdout,
                stderr=stderr,
            )
        try:
            assert wait_for(lambda: "Swept:" in out.read_text()), err.read_text()
            database.stop()
            assert wait_for(lambda: "part failed" in err.read_text()), err.read_text()
            swept_before = out.read_text().count("Swept:")
            database.start()
            assert wait_for(lambda: out.read_text().count("Swept:") > swept_before), (
                err.read_text()[-3000:]
            )
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition: Any, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()

"""Many processes and threads spending one account at once on PostgreSQL: exactly the
credits that exist are spent, never more, and the ledger verifies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, CreditTransaction, HoldState

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES = 4
THREADS = 50  # across all processes
ATTEMPTS = 400  # across all threads


def current_database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] or "postgres"
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or "5432"
    return f"postgres://{user}@{host}:{port}/{settings['NAME']}"


def hammer(operation: str, owner_id: int) -> dict[str, int]:
    """Run ``ATTEMPTS`` single-credit operations from ``THREADS`` threads in ``PROCESSES``
    processes, all starting at the same moment."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": current_database_url(),
    }
    start_at = time.time() + 3
    per_process = [THREADS // PROCESSES + (i < THREADS % PROCESSES) for i in range(PROCESSES)]
    attempts_per_thread = ATTEMPTS // THREADS
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.credits.concurrent_worker",
                operation,
                str(owner_id),
                str(threads),
                str(attempts_per_thread),
                str(start_at),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for threads in per_process
    ]
    totals = {"succeeded": 0, "refused": 0}
    errors: list[str] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        report = json.loads(out)
        errors += report.pop("errors")
        for outcome, count in report.items():
            totals[outcome] += count
    assert errors == [], errors
    return totals


def test_concurrent_debits_spend_exactly_the_balance(user: Any) -> None:
    ledger.grant(user, 100, source="purchase")

    totals = hammer("debit", user.pk)

    assert totals == {"succeeded": 100, "refused": 300}
    assert ledger.balance(user) == ledger.Balance(0, 0, 0)
    assert CreditTransaction.objects.filter(kind="debit").count() == 100
    assert ledger.verify(user) == []


def test_concurrent_holds_reserve_exactly_the_balance(user: Any) -> None:
    ledger.grant(user, 100, source="purchase")

    totals = hammer("hold", user.pk)

    assert totals == {"succeeded": 100, "refused": 300}
    assert ledger.balance(user) == ledger.Balance(100, 100, 0)
    assert CreditHold.objects.filter(state=HoldState.ACTIVE).count() == 100
    assert ledger.verify(user) == []


def test_concurrent_settlements_of_the_same_holds_settle_each_once(user: Any) -> None:
    ledger.grant(user, 20, source="purchase")
    holds = [ledger.hold(user, 1) for _ in range(20)]
    errors: list[BaseException] = []

    def settle(index: int) -> None:
        try:
            for reservation in holds:
                if index % 2:
                    ledger.capture(reservation, idempotency_key=f"capture-{reservation.pk}")
                else:
                    ledger.capture(reservation)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert CreditTransaction.objects.filter(kind="capture").count() == 20
    assert ledger.balance(user) == ledger.Balance(0, 0, 0)
    assert ledger.verify(user) == []


@pytest.mark.parametrize("blocker_writes", [False, True], ids=["lock-only", "lock-and-write"])
def test_a_debit_that_waits_for_the_lock_past_an_expiry_cannot_spend_expired_credits(
    user: Any, blocker_writes: bool
) -> None:
    from datetime import timedelta
    from unittest import mock

    from django.db import transaction
    from django.utils import timezone

    from quickscale.credits.exceptions import InsufficientCredits
    from quickscale.credits.models import CreditAccount

    expiry = timezone.now() + timedelta(hours=1)
    ledger.grant(user, 100, source="promotion", expires_at=expiry)
    ledger.grant(user, 100, source="purchase")
    # The clock reads a microsecond before the expiry when the debit starts, and after it once
    # the lock is given up: any wait for the lock takes the debit past the expiry.
    clock = [expiry - timedelta(microseconds=1)]
    locked = threading.Event()
    errors: list[BaseException] = []

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                account = CreditAccount.objects.select_for_update().get(owner=user)
                if blocker_writes:  # a new row version: PostgreSQL re-checks the waiting UPDATE
                    CreditAccount.objects.filter(pk=account.pk).update(updated_at=clock[0])
                locked.set()
                wait_until_a_statement_waits_for_a_lock()
                clock[0] = expiry + timedelta(seconds=1)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    with mock.patch("django.utils.timezone.now", side_effect=lambda: clock[0]):
        blocker = threading.Thread(target=hold_the_lock)
        blocker.start()
        assert locked.wait(10)
        try:
            with pytest.raises(InsufficientCredits):
                ledger.debit(user, 150)  # waits until after the promotion expired
        finally:
            blocker.join()

    assert errors == []
    assert ledger.balance(user).available == 100
    assert ledger.verify(user) == []


def wait_until_a_statement_waits_for_a_lock(timeout: float = 10) -> None:
    """Return once another session of this database waits for a lock (the debit, blocked on the
    account's row), polling the server's activity view."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
    raise AssertionError("No statement waited for the account's lock.")

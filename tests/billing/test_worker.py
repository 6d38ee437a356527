"""Webhook processing deferred to a task queue: with django-tasks-db the event and its task are
written in one transaction, and a real ``db_worker`` process grants the credits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings
from django_tasks_db.models import DBTaskResult

from quickscale.billing.models import Customer, EventStatus, WebhookEvent
from quickscale.credits import ledger
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe
from tests.projects.tasks_worker import TASKS as DATABASE_TASKS

ROOT = Path(__file__).resolve().parents[2]


def paid_pack_event(fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    """A paid pack checkout of a linked customer: processing it needs no call to Stripe."""
    customer = fake.customer(user)
    Customer.objects.create(user=user, stripe_id=customer["id"])
    return fake.event(
        "checkout.session.completed", fake.paid_session(customer, shop.pack, user=user)
    )


@pytest.mark.django_db
def test_the_database_queue_gets_the_task_with_the_event(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_pack_event(fake, shop, user)

    with override_settings(TASKS=DATABASE_TASKS):
        response = deliver(client, event)
        again = deliver(client, event)

    assert (response.status_code, again.status_code) == (200, 200)
    stored = WebhookEvent.objects.get()
    assert stored.status == EventStatus.PENDING
    # The repeated delivery queues it again: it was not processed yet, and a second run is a
    # no-op once the first has run.
    assert [task.args_kwargs for task in DBTaskResult.objects.order_by("enqueued_at")] == [
        {"args": [stored.pk], "kwargs": {}}
    ] * 2
    assert ledger.balance(user).balance == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_db_worker_processes_the_event_and_grants_once(
    client: Client, fake: FakeStripe, shop: Shop, user: Any, tmp_path: Path
) -> None:
    event = paid_pack_event(fake, shop, user)
    with override_settings(TASKS=DATABASE_TASKS):
        for _ in range(2):
            deliver(client, event)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.projects.tasks_worker",
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}"
        f":{db['PORT'] or '5432'}/{db['NAME']}",
    }

    worker = subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "db_worker",
            "--batch",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.05",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert worker.returncode == 0, worker.stdout + worker.stderr
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (EventStatus.PROCESSED, 1)
    assert ledger.balance(user).balance == 100
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}

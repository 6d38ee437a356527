"""Many retries of one request at once, all with the same ``Idempotency-Key``, on PostgreSQL:
the service runs and charges once, and every answer but the one that ran it says it is a
replay."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from quickscale.apikeys.keys import create_key
from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction, TransactionKind
from quickscale.services.execution import sync_catalog
from quickscale.services.models import ServiceRun
from tests.api.conftest import ALL_SCOPES

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

REQUESTS = 32


def post_all_at_once(token: str, slug: str, key: str) -> list[Any]:
    """POST the same run request from ``REQUESTS`` threads, released together."""
    start = threading.Barrier(REQUESTS)
    responses: list[Any] = [None] * REQUESTS
    errors: list[BaseException] = []

    def post(index: int) -> None:
        client = Client()
        try:
            start.wait(timeout=30)
            responses[index] = client.post(
                f"/api/v1/services/{slug}/runs",
                {"input": {"text": "one two three"}},
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(index,)) for index in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return responses


@pytest.mark.parametrize(
    ("slug", "cost"), [("word-count", Decimal("1.00")), ("echo", Decimal("2.00"))]
)
def test_concurrent_retries_with_one_key_run_once_and_the_others_are_marked_replayed(
    user: Any, slug: str, cost: Decimal
) -> None:
    sync_catalog()
    ledger.grant(user, 20, source="purchase")
    _, token = create_key(user, "retries", scopes=ALL_SCOPES)

    responses = post_all_at_once(token, slug, "order-7")

    assert {response.status_code for response in responses} <= {201, 202}
    assert len({response.json()["id"] for response in responses}) == 1
    replayed = [response.get("Idempotent-Replayed") for response in responses]
    assert replayed.count(None) == 1, replayed
    assert replayed.count("true") == REQUESTS - 1
    assert ServiceRun.objects.count() == 1
    assert ledger.balance(user).balance == 20 - cost
    charges = CreditTransaction.objects.filter(
        kind__in=[TransactionKind.DEBIT, TransactionKind.CAPTURE]
    )
    assert charges.count() == 1

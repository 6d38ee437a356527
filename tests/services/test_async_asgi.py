"""``aexecute`` and ``adebit`` under a real ASGI server, hit concurrently over HTTP.

A uvicorn process serves ``tests/projects/asgi_project.py`` (``async def`` views that run a paid
service with ``aexecute``, then debit a fee with ``adebit``) against the test database, so it
needs PostgreSQL: the SQLite test database lives in this process's memory. Under Django's ASGI
handler each request's synchronous work runs in a thread of its own, so these requests reach
the ledger at the same time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction
from quickscale.services.models import ServiceRun
from tests.projects.asyncapp.views import FEE
from tests.servers import database_url

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60  # seconds a request may take before the test fails

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@dataclass
class Server:
    """The uvicorn process and where it listens."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """Send one request; its status and JSON body (4xx and 5xx answers included)."""
        data = None if body is None else json.dumps(body).encode()
        sent = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(sent, timeout=TIMEOUT) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                raise AssertionError(f"{error.code}: {text!r}\n{self.output()}") from error

    def concurrently(self, path: str, bodies: list[dict[str, Any]]) -> list[Any]:
        """POST every body at once, each from its own thread; the answers, in order."""
        start = threading.Barrier(len(bodies))

        def post(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            start.wait(timeout=TIMEOUT)
            return self.request("POST", path, body)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(post, bodies))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """uvicorn serving the ASGI test project on a socket bound here (no port to guess)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # requests sent before uvicorn accepts wait in the backlog
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.projects.asgi_project",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    log = tmp_path / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "django.core.asgi:get_asgi_application",
                "--fd",
                str(listener.fileno()),
                "--lifespan",
                "off",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()  # uvicorn has its own copy
    running = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=TIMEOUT)


def test_concurrent_retries_with_one_key_run_and_charge_once(server: Server, user: Any) -> None:
    ledger.grant(user, 30, source="purchase")
    # Eight requests, each sent twice at the same moment with its key, as a client retrying
    # after a timeout does: a held service run (2 credits) and the fee (1 credit) each.
    bodies = [{"service": "echo", "key": f"req-{n}"} for n in range(8) for _ in range(2)]

    answers = server.concurrently(f"/users/{user.pk}/runs", bodies)

    assert [status for status, _ in answers] == [200] * 16, (answers, server.output())
    for (_, first), (_, second) in zip(answers[::2], answers[1::2], strict=True):
        assert (first["run"], first["fee"]) == (second["run"], second["fee"])
        assert sorted([first["replayed"], second["replayed"]]) == [False, True]
    runs = ServiceRun.objects.filter(user=user)
    assert runs.count() == 8
    assert set(runs.values_list("status", flat=True)) == {"succeeded"}
    assert CreditTransaction.objects.filter(kind="capture").count() == 8
    assert CreditTransaction.objects.filter(kind="debit", reason="request fee").count() == 8
    assert ledger.balance(user) == ledger.Balance(Decimal(6), Decimal(0), Decimal(6))
    assert server.request("GET", f"/users/{user.pk}/balance") == (200, {"available": "6.00"})
    assert ledger.verify() == []


def test_concurrent_requests_spend_every_credit_and_never_one_twice(
    server: Server, user: Any
) -> None:
    ledger.grant(user, 10, source="purchase")
    # Twelve requests at once wanting 24 credits: an inline run (1 credit) and the fee (1).
    bodies = [{"service": "word-count"} for _ in range(12)]

    answers = server.concurrently(f"/users/{user.pk}/runs", bodies)

    statuses = [status for status, _ in answers]
    # Which requests get both their run and their fee depends on the interleaving; but 24
    # credits were wanted against 10, so some are refused, and nothing else may happen.
    assert set(statuses) <= {200, 402}, (answers, server.output())
    assert 402 in statuses
    paid_runs = [body["run"] for _, body in answers if "run" in body]
    fees = [body["fee"] for status, body in answers if status == 200]
    # Every run the server reported is recorded and charged, every refused one left no trace.
    runs = ServiceRun.objects.filter(user=user)
    assert sorted(runs.values_list("pk", flat=True)) == sorted(paid_runs)
    assert set(runs.values_list("status", flat=True)) == {"succeeded"}
    charges = CreditTransaction.objects.filter(kind="debit")
    assert charges.count() == len(paid_runs) + len(fees)
    assert sorted(charges.filter(reason="request fee").values_list("pk", flat=True)) == sorted(fees)
    # Ten credits, ten charges of one: all spent, none twice.
    assert len(paid_runs) + len(fees) * FEE == 10
    assert ledger.balance(user) == ledger.Balance(Decimal(0), Decimal(0), Decimal(0))
    assert ledger.verify() == []

"""A real PostgreSQL stopped under a running site, then started again: meanwhile the API
answers its JSON 503 and pages the site's 503 page, both with ``Retry-After``; once the
database is back, the next requests are answered as usual."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.outage.postgres import ThrowawayPostgres, free_port, running

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60  # seconds the site may take to migrate and start


@pytest.fixture
def database() -> Iterator[ThrowawayPostgres]:
    with running() as server:
        yield server


class Site:
    """The outage project served by ``tests.api.outage.serve`` in its own process."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.api.outage.serve", str(self.port)],
                cwd=ROOT,
                env={
                    **os.environ,
                    "DJANGO_SETTINGS_MODULE": "tests.api.outage.settings",
                    "DATABASE_URL": database_url,
                },
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as ready:
            ready.register(self.process.stdout, selectors.EVENT_READ)
            assert ready.select(WAIT), f"The site did not start:\n{self.logged()}"
        line = self.process.stdout.readline().decode().split()
        assert line[:1] == ["ready"], self.logged()
        self.key = line[1]

    def get(self, path: str, *, key: bool = False) -> tuple[int, Any, bytes]:
        """Status, headers and body of ``GET path``."""
        headers = {"Authorization": f"Bearer {self.key}"} if key else {}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read()

    def logged(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def site(database: ThrowawayPostgres, tmp_path: Path) -> Iterator[Site]:
    served = Site(database.url, tmp_path / "site.log")
    try:
        yield served
    finally:
        served.stop()


def assert_json_503(status: int, headers: Any, body: bytes) -> None:
    assert status == 503, body
    assert headers["Content-Type"] == "application/json"
    assert headers["Retry-After"] == "10"
    assert headers["Cache-Control"] == "no-store"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "database_unavailable"
    assert error["details"] == {"retry_after": 10}


def test_while_the_database_restarts_the_api_answers_503_json_and_pages_the_503_page(
    database: ThrowawayPostgres, site: Site
) -> None:
    status, _, body = site.get("/api/v1/credits/balance", key=True)
    assert status == 200, body
    assert site.get("/page/")[0] == 200

    database.stop()

    # The key is looked up by the key middleware, before any view, on the connection the last
    # request left open, which the shutdown cut.
    assert_json_503(*site.get("/api/v1/credits/balance", key=True))
    # A view of the API, on a connection the stopped server refuses.
    assert_json_503(*site.get("/api/v1/openapi.json"))
    status, headers, body = site.get("/page/")
    assert status == 503
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Retry-After"] == "10"
    assert b"The site is catching its breath" in body
    assert "The database cannot be reached" in site.logged()

    database.start()

    status, _, body = site.get("/api/v1/credits/balance", key=True)
    assert status == 200, body
    assert b'"balance": "20.00"' in body
    assert site.get("/page/")[0] == 200

"""Fixtures shared by the whole suite."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
REDIS_URL = os.environ.get("REDIS_URL", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        # Tests of what SQLite lacks do not apply to PostgreSQL: not run, and not a skip.
        about_sqlite = [item for item in items if item.get_closest_marker("sqlite")]
        if about_sqlite:
            config.hook.pytest_deselected(items=about_sqlite)
            items[:] = [item for item in items if not item.get_closest_marker("sqlite")]
    for item in items:
        if item.get_closest_marker("postgres") and not ON_POSTGRES:
            item.add_marker(
                pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
            )
        if item.get_closest_marker("redis") and not REDIS_URL:
            item.add_marker(pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://..."))


@pytest.fixture
def scratch_database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A brand-new, empty database of the same engine as the suite's, dropped afterwards."""
    url = os.environ.get("DATABASE_URL", "")
    if not ON_POSTGRES:
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    import psycopg

    name = f"qs_scratch_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def vendor() -> str:
    """The database vendor the suite runs on (``postgresql`` or ``sqlite``)."""
    return connection.vendor


_numbers = itertools.count(1)


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    """Create users with unique names and emails."""

    def make(**fields: Any) -> Any:
        number = next(_numbers)
        fields.setdefault("username", f"user{number}")
        fields.setdefault("email", f"user{number}@example.com")
        return get_user_model().objects.create_user(**fields)

    return make


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture(autouse=True)
def _forget_blocked_addresses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no address remembered as over its failed-authentication limit,
    and the rate limits' clock held in the middle of a one-minute window, so no test straddles
    two windows."""
    import time

    from quickscale.apikeys import ratelimit

    now = time.time()
    monkeypatch.setattr(ratelimit, "_clock", lambda: now - now % ratelimit.WINDOW + 30)
    ratelimit.reset()
    yield
    ratelimit.reset()

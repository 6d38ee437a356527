"""``DatabaseUnavailableMiddleware``: a database that cannot be reached is a 503 with
``Retry-After``, JSON under the API's paths and the ``503.html`` page elsewhere; every other
database error stays a 500. (``tests/api/test_database_restart.py`` stops a real server.)"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.utils import ConnectionHandler
from django.test import AsyncClient, Client

from quickscale.core.outages import database_unreachable
from tests.api.conftest import assert_error
from tests.api.outage import views
from tests.settings import MIDDLEWARE

# Every test may query: pytest-django refuses connections, even to a server that is not there.
pytestmark = [pytest.mark.urls("tests.api.outage.urls"), pytest.mark.django_db]

TEMPLATES_503 = Path(__file__).resolve().parent / "api" / "outage" / "templates"


def caught(action: Any) -> BaseException:
    with pytest.raises(DatabaseError) as error:
        action()
    return error.value


@pytest.fixture
def quiet_client() -> Client:
    """A client that returns a 500 instead of raising the error behind it."""
    return Client(raise_request_exception=False)


# -- what counts ------------------------------------------------------------------------------


def test_a_refused_connection_is_unreachable() -> None:
    assert database_unreachable(caught(views.read_unreachable))


def test_a_query_on_a_missing_table_is_not_unreachable() -> None:
    def query() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM quickscale_no_such_table")

    assert not database_unreachable(caught(query))


def test_a_duplicate_is_not_unreachable() -> None:
    def twice() -> None:
        with transaction.atomic():
            get_user_model().objects.create_user("twin")
            get_user_model().objects.create_user("twin")

    error = caught(twice)

    assert isinstance(error, IntegrityError)
    assert not database_unreachable(error)


def test_no_sqlite_error_is_unreachable() -> None:
    """SQLite reports a missing table as an ``OperationalError``: a bug, not an outage."""
    databases = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )

    def query() -> None:
        with databases["default"].cursor() as cursor:
            cursor.execute("SELECT * FROM quickscale_no_such_table")

    try:
        error = caught(query)
    finally:
        databases.close_all()

    assert isinstance(error, OperationalError)
    assert not database_unreachable(error)


@pytest.mark.postgres
def test_a_statement_cancelled_by_its_timeout_is_not_unreachable() -> None:
    def slow() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 10")
            cursor.execute("SELECT pg_sleep(1)")

    error = caught(slow)

    assert isinstance(error, OperationalError)
    assert not database_unreachable(error)


def test_errors_of_other_kinds_are_not_unreachable() -> None:
    assert not database_unreachable(ValueError("no"))
    assert not database_unreachable(OperationalError("raised without a driver's error"))


# -- the answers ------------------------------------------------------------------------------


def test_a_page_whose_database_cannot_be_reached_is_a_503_page(client: Client) -> None:
    response = client.get("/unreachable/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "10"
    assert response["Cache-Control"] == "no-store"
    assert b"Service Unavailable (503)" in response.content  # Django's plain page


def test_the_503_page_is_the_sites_503_template(client: Client, settings: Any) -> None:
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [TEMPLATES_503]}]

    response = client.get("/unreachable/")

    assert response.status_code == 503
    assert b"The site is catching its breath" in response.content


def test_an_api_request_whose_database_cannot_be_reached_is_the_apis_json_503(
    client: Client,
) -> None:
    response = client.get("/api/host/unreachable/")

    error = assert_error(response, 503, "database_unavailable")
    assert error["details"] == {"retry_after": 10}
    assert response["Retry-After"] == "10"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Request-ID"]


def test_the_api_is_what_the_key_middleware_authenticates(client: Client, settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_PATH_PREFIXES = ["/unreachable/"]

    assert_error(client.get("/unreachable/"), 503, "database_unavailable")
    assert client.get("/api/host/unreachable/")["Content-Type"].startswith("text/html")


def test_an_error_raised_by_a_middleware_below_is_a_503_too(
    quiet_client: Client, settings: Any
) -> None:
    settings.MIDDLEWARE = [*MIDDLEWARE, "tests.api.outage.views.read_unreachable_first"]

    api = quiet_client.get("/api/v1/openapi.json", headers={"X-Read-First": "yes"})
    page = quiet_client.get("/missing-table/", headers={"X-Read-First": "yes"})

    assert_error(api, 503, "database_unavailable")
    assert api["Retry-After"] == "10"
    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")


def test_under_asgi_too() -> None:
    response = async_to_sync(AsyncClient().get)("/api/host/unreachable/")

    assert_error(response, 503, "database_unavailable")


def test_each_unreachable_request_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="quickscale.core.middleware"):
        client.get("/unreachable/")

    (record,) = [r for r in caplog.records if r.name == "quickscale.core.middleware"]
    assert record.getMessage().startswith(
        "The database cannot be reached; GET /unreachable/ answered 503: OperationalError"
    )


@pytest.mark.parametrize("path", ["/missing-table/", "/api/host/missing-table/", "/duplicate/"])
def test_a_wrong_query_is_still_a_500(quiet_client: Client, path: str) -> None:
    response = quiet_client.get(path)

    assert response.status_code == 500
    assert "Retry-After" not in response

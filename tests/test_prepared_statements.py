"""The hot statements (key lookup, catalog row, debit) run as prepared statements on PostgreSQL,
through Django's usual cursor wrapping; elsewhere, or when turned off, as Django runs any SQL."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from quickscale.core.db import fetch_one, prepared_cursor
from tests.roundtrips import wire

postgres = pytest.mark.postgres


def prepared_texts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@postgres
@pytest.mark.django_db
def test_a_statement_is_parsed_once_then_only_bound_and_executed() -> None:
    assert fetch_one(connection, "SELECT %s::int + 1 AS quickscale_probe", [1]) == (2,)
    with wire(connection) as sent:
        assert fetch_one(connection, "SELECT %s::int + 1 AS quickscale_probe", [41]) == (42,)

    assert sent.round_trips == 1
    assert not [line for line in sent.lines if "\tParse\t" in line]  # bound, not parsed again
    assert sent.sent == ["SELECT $1::int + 1 AS quickscale_probe"]
    assert "SELECT $1::int + 1 AS quickscale_probe" in prepared_texts()


@postgres
@pytest.mark.django_db
def test_the_connection_proxy_and_the_connection_prepare_a_statement_once() -> None:
    assert fetch_one(connection, "SELECT %s::int * 2 AS quickscale_shared", [2]) == (4,)
    assert fetch_one(connections["default"], "SELECT %s::int * 2 AS quickscale_shared", [3]) == (6,)

    assert len([text for text in prepared_texts() if "quickscale_shared" in text]) == 1


@postgres
@pytest.mark.django_db
def test_djangos_own_cursors_still_prepare_nothing() -> None:
    fetch_one(connection, "SELECT 1 AS quickscale_probe", [])  # turns preparing on for ours
    with connection.cursor() as cursor:
        for _ in range(20):
            cursor.execute("SELECT %s AS quickscale_plain", [1])

    assert not [text for text in prepared_texts() if "quickscale_plain" in text]


@postgres
@pytest.mark.django_db
def test_turned_off_nothing_is_prepared() -> None:
    with override_settings(QUICKSCALE_CORE_PREPARED_STATEMENTS=False):
        for _ in range(3):
            assert fetch_one(connection, "SELECT %s::int AS quickscale_off", [7]) == (7,)

    assert not [text for text in prepared_texts() if "quickscale_off" in text]


@postgres
@pytest.mark.django_db
def test_a_project_binding_on_the_server_keeps_its_own_cursor(monkeypatch: Any) -> None:
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "server_side_binding", True)

    cursor = prepared_cursor(connection)

    assert type(cursor.cursor).__name__ != "_PreparedCursor"
    cursor.close()


@pytest.mark.django_db
def test_statements_go_through_the_query_log_and_execute_wrappers() -> None:
    seen: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy), CaptureQueriesContext(connection) as logged:
        assert fetch_one(connection, "SELECT %s AS quickscale_logged", [5]) == (5,)

    assert seen == ["SELECT %s AS quickscale_logged"]
    assert [query["sql"] for query in logged.captured_queries] == ["SELECT 5 AS quickscale_logged"]


@pytest.mark.django_db
def test_errors_are_djangos_database_errors() -> None:
    with pytest.raises(DatabaseError):
        fetch_one(connection, "SELECT * FROM quickscale_no_such_table", [])


@postgres
@pytest.mark.django_db
def test_timestamps_are_read_as_djangos_cursors_read_them() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [moment])
        (django_reads,) = cursor.fetchone()

    (ours,) = fetch_one(connection, "SELECT %s::timestamptz AS quickscale_time", [moment])

    assert ours == django_reads == moment
    assert ours.utcoffset() == django_reads.utcoffset()


@postgres
@pytest.mark.django_db(transaction=True)
def test_it_keeps_working_after_a_rollback_and_a_new_connection() -> None:
    sql = "SELECT %s::int * 2 AS quickscale_again"
    assert fetch_one(connection, sql, [2]) == (4,)
    connection.set_autocommit(False)
    try:
        fetch_one(connection, sql, [3])
        connection.rollback()  # psycopg forgets its prepared statements here
    finally:
        connection.set_autocommit(True)
    assert fetch_one(connection, sql, [5]) == (10,)

    connection.close()
    assert fetch_one(connection, sql, [6]) == (12,)
    assert fetch_one(connection, sql, [7]) == (14,)


@postgres
@pytest.mark.django_db
def test_a_paid_api_calls_statements_are_the_prepared_ones(client: Any, user: Any) -> None:
    from quickscale.apikeys.keys import create_key
    from quickscale.credits import ledger

    ledger.grant(user, 20, source="purchase")
    _, token = create_key(user, "test", scopes=["services:write"])
    for _ in range(2):
        response = client.post(
            "/api/v1/services/word-count/runs",
            {"input": {"text": "two words"}},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 201

    texts = prepared_texts()
    assert [text for text in texts if "key_id" in text and "secret_hash" in text]  # the key
    assert [text for text in texts if "balance - held >=" in text]  # the debit
    assert ledger.balance(user).available == 18


@pytest.mark.django_db
def test_on_any_database_it_returns_the_first_row() -> None:
    with override_settings(QUICKSCALE_CORE_PREPARED_STATEMENTS=True):
        assert fetch_one(connection, "SELECT 3 AS quickscale_any", []) == (3,)


def _groups_named(name: str) -> Any:
    from django.contrib.auth.models import Group

    return Group.objects.filter(name=name).order_by()


def _users_by_id_and_email(user_id: int, email: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id, email=email).order_by()


@pytest.mark.django_db
def test_a_prepared_query_finds_rows_by_text_and_integer_arguments(
    make_user: Any,
) -> None:
    from django.contrib.auth.models import Group

    from quickscale.core.db import PreparedQuery

    by_name = PreparedQuery(_groups_named)
    by_id_and_email = PreparedQuery(_users_by_id_and_email)
    group = Group.objects.create(name="editors")
    ada, bob = make_user(email="ada@example.com"), make_user(email="bob@example.com")

    assert by_name.first("editors") == group
    assert by_name.first("nobody") is None
    assert by_id_and_email.first(ada.pk, "ada@example.com") == ada
    assert by_id_and_email.first(bob.pk, "bob@example.com") == bob
    assert by_id_and_email.first(ada.pk, "bob@example.com") is None


@pytest.mark.django_db
def test_a_prepared_query_whose_argument_does_not_reach_its_sql_is_refused() -> None:
    from django.contrib.auth.models import Group

    from quickscale.core.db import PreparedQuery

    ignoring = PreparedQuery(lambda name: Group.objects.filter(name__contains=name))

    with pytest.raises(ValueError, match="must reach its SQL once and unchanged"):
        ignoring.first("editors")

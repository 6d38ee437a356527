"""Recorded events cannot be changed or deleted: by the model and its queryset everywhere, and
by a trigger on PostgreSQL whatever the SQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, models, transaction

from quickscale.audit import chain
from quickscale.audit.exceptions import AppendOnly
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from tests.audit.conftest import raw

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def event(db: None) -> AuditEvent:
    recorded = record("report.downloaded", metadata={"report": "usage"})
    assert recorded is not None
    return recorded


def test_a_saved_event_refuses_to_be_saved_again(event: AuditEvent) -> None:
    event.action = "report.deleted"

    with pytest.raises(AppendOnly, match="append-only"):
        event.save()


def test_an_event_refuses_to_be_deleted(event: AuditEvent) -> None:
    with pytest.raises(AppendOnly, match="audit prune"):
        event.delete()


def test_the_queryset_refuses_update_and_delete(event: AuditEvent) -> None:
    events = AuditEvent.objects.filter(pk=event.pk)

    with pytest.raises(AppendOnly):
        events.update(action="report.deleted")
    with pytest.raises(AppendOnly):
        events.delete()
    with pytest.raises(AppendOnly), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.get(pk=event.pk).action == "report.downloaded"


# -- PostgreSQL's trigger ---------------------------------------------------------------------


def refused(sql: str, params: list[Any]) -> str:
    """The database's error for ``sql``, run in a savepoint the test can continue after."""
    with pytest.raises(DatabaseError) as error, transaction.atomic():
        raw(sql, params)
    return str(error.value)


@pytest.mark.postgres
def test_raw_sql_update_is_refused(event: AuditEvent) -> None:
    message = refused(f"UPDATE {TABLE} SET action = 'report.deleted' WHERE id = %s", [event.pk])

    assert f"UPDATE of event {event.pk} refused" in message
    assert AuditEvent.objects.get(pk=event.pk).action == "report.downloaded"


@pytest.mark.postgres
def test_raw_sql_delete_is_refused(event: AuditEvent) -> None:
    message = refused(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])

    assert f"DELETE of event {event.pk} refused" in message
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
def test_the_orms_own_update_and_delete_are_refused_by_the_database(event: AuditEvent) -> None:
    # A plain QuerySet, without the model's guard: only the trigger is left to refuse.
    events = models.QuerySet(AuditEvent).filter(pk=event.pk)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        events.update(action="report.deleted")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        events._raw_delete(connection.alias)

    assert AuditEvent.objects.filter(pk=event.pk, action="report.downloaded").exists()


@pytest.mark.postgres
def test_sealing_is_the_one_update_allowed(event: AuditEvent) -> None:
    assert chain.seal() >= 1

    sealed = AuditEvent.objects.get(pk=event.pk)
    assert sealed.row_hash is not None


@pytest.mark.postgres
def test_a_sealed_event_cannot_be_resealed(event: AuditEvent) -> None:
    chain.seal()

    message = refused(f"UPDATE {TABLE} SET row_hash = %s WHERE id = %s", ["0" * 64, event.pk])

    assert "refused" in message


@pytest.mark.postgres
def test_sealing_cannot_carry_another_change(db: None) -> None:
    event = record("report.downloaded")
    assert event is not None

    message = refused(
        f"UPDATE {TABLE} SET chain_position = 999, prev_hash = %s, row_hash = %s, "
        "action = 'report.deleted' WHERE id = %s",
        ["0" * 64, "1" * 64, event.pk],
    )

    assert "refused" in message


@pytest.mark.postgres
def test_only_a_transaction_marked_for_pruning_may_delete(event: AuditEvent) -> None:
    with transaction.atomic():
        raw("SELECT set_config('quickscale.audit_prune', 'on', true)")
        raw(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])
        raw("SELECT set_config('quickscale.audit_prune', 'off', true)")
    other = record("report.downloaded")
    assert other is not None

    assert not AuditEvent.objects.filter(pk=event.pk).exists()
    assert "refused" in refused(f"DELETE FROM {TABLE} WHERE id = %s", [other.pk])

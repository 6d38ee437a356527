"""Row-level capture on PostgreSQL: every inserted, updated and deleted row of a chosen model is
recorded by a trigger, ``update()``, bulk operations and raw SQL included."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings

from quickscale.audit import triggers
from quickscale.audit.log import MASK
from quickscale.audit.models import AuditEvent
from quickscale.core.context import Actor, context
from tests.audit.conftest import raw

pytestmark = [pytest.mark.postgres, pytest.mark.usefixtures("no_events_yet")]
User = get_user_model()


def audit(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def captured(settings: Any, no_events_yet: None) -> None:
    """Users and groups captured (the triggers are DDL, rolled back with the test)."""
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.User", "auth.Group"]
    triggers.sync()


def row_events(action: str | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.filter(action__startswith="row.").order_by("id")
    if action is not None:
        events = events.filter(action=action)
    return list(events)


def test_the_command_installs_and_lists_the_triggers(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.Group"]

    installed = audit("triggers", "install")
    status = audit("triggers", "status")

    assert "Capturing every row change of auth_group." in installed
    assert "auth_group: every inserted, updated and deleted row is recorded." in status


@pytest.mark.usefixtures("captured")
def test_an_orm_update_is_recorded_with_its_changes(make_user: Callable[..., Any]) -> None:
    ada = make_user(first_name="")

    User.objects.filter(pk=ada.pk).update(first_name="Ada")

    [event] = row_events("row.updated")
    assert (event.target_type, event.target_id) == ("auth.user", str(ada.pk))
    assert event.changes == {"first_name": ["", "Ada"]}
    assert event.metadata == {"table": "auth_user", "captured_by": "trigger"}
    assert event.occurred_at is not None


@pytest.mark.usefixtures("captured")
def test_bulk_operations_are_recorded_row_by_row() -> None:
    groups = Group.objects.bulk_create([Group(name="one"), Group(name="two")])
    for group in groups:
        group.name = group.name.upper()
    Group.objects.bulk_update(groups, ["name"])

    inserted, updated = row_events("row.inserted"), row_events("row.updated")
    assert sorted(event.changes["name"][1] for event in inserted) == ["one", "two"]
    assert sorted(event.changes["name"][1] for event in updated) == ["ONE", "TWO"]
    assert {event.target_id for event in updated} == {str(group.pk) for group in groups}


@pytest.mark.usefixtures("captured")
def test_raw_sql_is_recorded() -> None:
    group = Group.objects.create(name="support")

    raw("DELETE FROM auth_group WHERE id = %s", [group.pk])

    [event] = row_events("row.deleted")
    assert event.target_id == str(group.pk)
    assert event.changes == {"id": [group.pk, None], "name": ["support", None]}


@pytest.mark.usefixtures("captured")
def test_sensitive_columns_are_masked(make_user: Callable[..., Any]) -> None:
    ada = make_user()

    User.objects.filter(pk=ada.pk).update(password="pbkdf2_sha256$new")

    [event] = row_events("row.updated")
    assert event.changes == {"password": [MASK, MASK]}
    [created] = row_events("row.inserted")
    assert created.changes["password"] == [None, MASK]


@pytest.mark.usefixtures("captured")
def test_an_update_that_changes_nothing_is_not_recorded() -> None:
    group = Group.objects.create(name="support")

    Group.objects.filter(pk=group.pk).update(name="support")

    assert row_events("row.updated") == []


@pytest.mark.usefixtures("captured")
def test_the_trigger_records_who_acted(make_user: Callable[..., Any]) -> None:
    operator = make_user()
    group = Group.objects.create(name="support")

    with context(actor=operator, ip="192.0.2.5", request_id="req-9", user_agent="ops"):
        Group.objects.filter(pk=group.pk).update(name="helpdesk")

    [event] = row_events("row.updated")
    assert (event.actor_type, event.actor_id, event.actor_repr) == (
        "user",
        str(operator.pk),
        str(operator),
    )
    assert (event.ip, event.request_id, event.user_agent) == ("192.0.2.5", "req-9", "ops")


@pytest.mark.usefixtures("captured")
def test_each_statement_carries_the_context_of_its_moment() -> None:
    group = Group.objects.create(name="support")
    with transaction.atomic(), context(actor=Actor.system("import")):
        Group.objects.filter(pk=group.pk).update(name="import")

    Group.objects.filter(pk=group.pk).update(name="later")

    first, second = row_events("row.updated")
    assert (first.actor_type, first.actor_repr) == ("system", "import")
    assert (second.actor_type, second.actor_repr) == ("", "")


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_context_reaches_the_trigger_and_goes(
    no_events_yet: None, make_user: Callable[..., Any]
) -> None:
    operator = make_user()
    with override_settings(QUICKSCALE_AUDIT_TRIGGER_MODELS=["auth.Group"]):
        triggers.sync()
        try:
            group = Group.objects.create(name="support")
            with context(actor=operator):
                Group.objects.filter(pk=group.pk).update(name="helpdesk")
            Group.objects.filter(pk=group.pk).update(name="anyone")
        finally:
            triggers.remove()

    first, second = row_events("row.updated")
    assert (first.actor_type, first.actor_id) == ("user", str(operator.pk))
    assert (second.actor_type, second.actor_id) == ("", "")


def test_a_model_left_out_of_the_setting_loses_its_trigger(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.Group", "auth.User"]
    triggers.sync()
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.User"]

    added, removed = triggers.sync()

    assert (added, removed) == (["auth_user"], ["auth_group"])
    Group.objects.create(name="quiet")
    assert row_events() == []


def test_remove_takes_every_trigger_away(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.Group"]
    triggers.sync()

    out = audit("triggers", "remove")

    assert "Removed row-level capture from auth_group." in out
    assert triggers.installed() == {}


def test_every_migrate_installs_the_configured_triggers(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.Group"]

    triggers.sync_after_migrate(using=connection.alias, apps=apps)

    assert list(triggers.installed()) == ["auth_group"]


def test_an_unknown_model_is_a_clear_error(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.Nothing"]

    with pytest.raises(CommandError, match=r"'auth\.Nothing', which is not an installed model"):
        audit("triggers", "install")


def test_the_audit_log_cannot_capture_itself(settings: Any) -> None:
    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["quickscale_audit.AuditEvent"]

    with pytest.raises(CommandError, match="cannot record its own rows"):
        audit("triggers", "install")

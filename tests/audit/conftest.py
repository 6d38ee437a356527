"""Fixtures of the audit log's tests: a staff client from a known address, and the events a
test wrote (the test database starts with events of its own, such as the service catalog's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client

from quickscale.audit.models import AuditEvent

#: The client address of every request a test makes (TEST-NET-3, never a real host).
CLIENT_IP = "203.0.113.7"


@pytest.fixture
def client_ip() -> str:
    return CLIENT_IP


@pytest.fixture
def web(db: None) -> Client:
    """A browser from ``CLIENT_IP``."""
    return Client(REMOTE_ADDR=CLIENT_IP, HTTP_USER_AGENT="Tests/1.0")


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    return make_user(is_staff=True, is_superuser=True, password="staff-password")


@pytest.fixture
def staff_web(web: Client, staff: Any) -> Client:
    web.force_login(staff)
    return web


@pytest.fixture
def new_events(db: None) -> Callable[..., list[AuditEvent]]:
    """Events written since the test started, oldest first, optionally of one action."""
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def found(action: str | None = None) -> list[AuditEvent]:
        events = AuditEvent.objects.filter(id__gt=start).order_by("id")
        if action is not None:
            events = events.filter(action=action)
        return list(events)

    return found


@pytest.fixture
def one_event(new_events: Callable[..., list[AuditEvent]]) -> Callable[[str], AuditEvent]:
    """The single event of ``action`` the test wrote."""

    def found(action: str) -> AuditEvent:
        events = new_events(action)
        assert len(events) == 1, [event.action for event in new_events()]
        return events[0]

    return found


def raw(sql: str, params: Any = None) -> Any:
    """Run SQL on the suite's connection and return ``fetchall()`` (or ``None``)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@pytest.fixture
def no_events_yet(db: None) -> None:
    """Start from an empty audit log and chain (the database's own events are hidden by
    deleting them the way prune does)."""
    from quickscale.audit.models import ChainHead

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('quickscale.audit_prune', 'on', true)")
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table}")
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('quickscale.audit_prune', 'off', true)")
    ChainHead.objects.all().delete()

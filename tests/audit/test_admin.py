"""The audit log in the Django admin: read-only, indexed filters, exact search, and a count that
never scans the whole table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quickscale.audit import chain
from quickscale.audit.admin import EXACT_COUNT_LIMIT, EstimatedCountPaginator
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from quickscale.core.context import context
from tests.audit.conftest import raw

CHANGELIST = reverse("admin:quickscale_audit_auditevent_changelist")
pytestmark = pytest.mark.usefixtures("no_events_yet")


def listed(response: Any) -> list[int]:
    """The events a changelist shows, but the staff member's own login."""
    return [
        event.pk for event in response.context["cl"].result_list if event.action != "auth.login"
    ]


@pytest.fixture
def some(user: Any) -> list[AuditEvent]:
    with context(actor=user, request_id="req-1"):
        recorded = [
            record("apikey.created", target=user),
            record("credits.granted", metadata={"amount": "5.00"}),
            record("auth.login_failed", actor=None, outcome="failure"),
        ]
    return [event for event in recorded if event is not None]


def test_the_changelist_lists_events_newest_first(
    staff_web: Client, some: list[AuditEvent]
) -> None:
    response = staff_web.get(CHANGELIST)

    assert response.status_code == 200
    assert listed(response) == [event.pk for event in reversed(some)]


def test_events_cannot_be_added_changed_or_deleted(
    staff_web: Client, some: list[AuditEvent]
) -> None:
    event = some[0]
    change = reverse("admin:quickscale_audit_auditevent_change", args=[event.pk])

    assert staff_web.get(reverse("admin:quickscale_audit_auditevent_add")).status_code == 403
    assert staff_web.post(change, {"action": "x.y"}).status_code == 403
    delete = reverse("admin:quickscale_audit_auditevent_delete", args=[event.pk])
    assert staff_web.post(delete, {"post": "yes"}).status_code == 403
    page = staff_web.get(change)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert AuditEvent.objects.get(pk=event.pk).action == "apikey.created"


def test_the_changelist_has_no_delete_action(staff_web: Client, some: list[AuditEvent]) -> None:
    response = staff_web.get(CHANGELIST)

    assert response.context["action_form"] is None or "delete_selected" not in str(
        response.context["action_form"]
    )


def test_the_view_permission_is_enough_to_read(
    make_user: Callable[..., Any], some: list[AuditEvent]
) -> None:
    reader = make_user(is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    client = Client()
    client.force_login(reader)

    assert client.get(CHANGELIST).status_code == 200


def test_an_events_page_shows_its_changes_and_metadata(
    staff_web: Client, some: list[AuditEvent]
) -> None:
    page = staff_web.get(reverse("admin:quickscale_audit_auditevent_change", args=[some[1].pk]))

    assert b"&quot;amount&quot;: &quot;5.00&quot;" in page.content


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ({"family": "credits"}, ["credits.granted"]),
        ({"family": "auth"}, ["auth.login_failed"]),
        ({"within": "1h"}, ["auth.login_failed", "credits.granted", "apikey.created"]),
        ({"sealed": "no"}, ["auth.login_failed", "credits.granted", "apikey.created"]),
        ({"sealed": "yes"}, []),
        ({"q": "credits.granted"}, ["credits.granted"]),
        ({"q": "CREDITS.GRANTED"}, []),
        ({"q": "req-1"}, ["auth.login_failed", "credits.granted", "apikey.created"]),
    ],
)
def test_filters_and_search(
    staff_web: Client, some: list[AuditEvent], query: dict[str, str], actions: list[str]
) -> None:
    response = staff_web.get(CHANGELIST, query)

    assert [AuditEvent.objects.get(pk=pk).action for pk in listed(response)] == actions


def test_search_finds_an_actor_or_target_by_id(
    staff_web: Client, some: list[AuditEvent], user: Any
) -> None:
    response = staff_web.get(CHANGELIST, {"q": str(user.pk)})

    assert set(listed(response)) == {some[0].pk, some[1].pk}


def test_the_changelist_runs_the_same_queries_whatever_the_number_of_events(
    staff_web: Client, user: Any
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff_web.get(CHANGELIST).status_code == 200
        return len(captured)

    record("apikey.created", target=user)
    few = queries()
    for _ in range(30):
        record("apikey.created", target=user)
    chain.seal()

    assert queries() == few


def test_the_paginator_counts_exactly_below_its_limit(some: list[AuditEvent]) -> None:
    paginator = EstimatedCountPaginator(AuditEvent.objects.order_by("-id"), 2)

    assert paginator.count == 3
    assert paginator.num_pages == 2


@pytest.mark.postgres
def test_past_its_limit_the_paginator_estimates_instead_of_counting(db: None) -> None:
    rows = EXACT_COUNT_LIMIT + 2000
    raw(
        f"INSERT INTO {AuditEvent._meta.db_table} (action, outcome, actor_type, actor_id, "
        "actor_repr, api_key_id, user_agent, request_id, target_type, target_id, target_repr, "
        "changes, metadata) SELECT 'bulk.loaded', 'success', '', '', '', '', '', '', '', '', "
        "'', '{}', '{}' FROM generate_series(1, %s)",
        [rows],
    )
    raw(f"ANALYZE {AuditEvent._meta.db_table}")

    with CaptureQueriesContext(connection) as captured:
        count = EstimatedCountPaginator(AuditEvent.objects.order_by("-id"), 50).count
        filtered = EstimatedCountPaginator(
            AuditEvent.objects.filter(action="bulk.loaded").order_by("-id"), 50
        ).count

    sql = " ".join(query["sql"] for query in captured)
    assert "reltuples" in sql
    assert "EXPLAIN" in sql
    assert f"LIMIT {EXACT_COUNT_LIMIT + 1}" in sql
    assert abs(count - rows) < rows * 0.2
    assert abs(filtered - rows) < rows * 0.2


def test_the_audit_log_hides_nothing_from_superusers_but_shows_no_hash_editing(
    staff_web: Client, some: list[AuditEvent]
) -> None:
    chain.seal()
    page = staff_web.get(reverse("admin:quickscale_audit_auditevent_change", args=[some[0].pk]))

    assert some[0].pk in listed(staff_web.get(CHANGELIST, {"sealed": "yes"}))
    assert AuditEvent.objects.get(pk=some[0].pk).row_hash.encode() in page.content

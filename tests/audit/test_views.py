"""The staff page: who may see it, searching, keyset pages, and exports with the same filters."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from quickscale.audit import views
from quickscale.audit.log import Target, record
from quickscale.audit.models import AuditEvent
from quickscale.core.context import context

PAGE = reverse("quickscale_audit:events")
EXPORT = reverse("quickscale_audit:export")
pytestmark = pytest.mark.usefixtures("no_events_yet")


def shown(response: Any) -> list[str]:
    """The actions of the events a page lists (the staff member's own login left out)."""
    return [event.action for event in response.context["events"] if event.action != "auth.login"]


@pytest.fixture
def history(user: Any, make_user: Callable[..., Any]) -> dict[str, Any]:
    other = make_user(username="grace", email="grace@example.com")
    with context(actor=user, ip="192.0.2.1"):
        record("apikey.created", target=Target("quickscale_apikeys.apikey", "7", "CI"))
        record("apikey.revoked", target=Target("quickscale_apikeys.apikey", "7", "CI"))
    with context(actor=other):
        record("credits.granted", target=Target("quickscale_credits.creditaccount", "3"))
    AuditEvent.objects.create(action="old.thing", occurred_at=timezone.now() - timedelta(days=9))
    return {"user": user, "other": other}


# -- who may look ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(web: Client) -> None:
    response = web.get(PAGE)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_staff_without_the_view_permission_are_refused(
    web: Client, make_user: Callable[..., Any]
) -> None:
    web.force_login(make_user(is_staff=True))

    assert web.get(PAGE).status_code == 403


def test_staff_with_the_view_permission_may_look(
    web: Client, make_user: Callable[..., Any]
) -> None:
    reader = make_user(is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    web.force_login(reader)

    response = web.get(PAGE)

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


def test_a_non_staff_user_with_the_permission_is_refused(
    web: Client, make_user: Callable[..., Any]
) -> None:
    someone = make_user()
    someone.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    web.force_login(someone)

    assert web.get(PAGE).status_code == 403


def test_a_signed_in_customer_is_refused_not_sent_to_log_in_again(
    web: Client, make_user: Callable[..., Any]
) -> None:
    web.force_login(make_user())

    response = web.get(PAGE)

    assert response.status_code == 403
    assert "Location" not in response


def test_the_page_refuses_posts(staff_web: Client) -> None:
    assert staff_web.post(PAGE).status_code == 405


# -- searching --------------------------------------------------------------------------------


def test_the_page_lists_events_newest_first(staff_web: Client, history: dict[str, Any]) -> None:
    response = staff_web.get(PAGE)

    assert response.status_code == 200
    assert shown(response) == ["old.thing", "credits.granted", "apikey.revoked", "apikey.created"]
    assert b"apikey.revoked" in response.content
    assert b"192.0.2.1" in response.content


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ({"action": "apikey.revoked"}, ["apikey.revoked"]),
        ({"action": "apikey.*"}, ["apikey.revoked", "apikey.created"]),
        ({"action": "credits."}, ["credits.granted"]),
        ({"actor": "grace"}, ["credits.granted"]),
        ({"actor": "grace@example.com"}, ["credits.granted"]),
        ({"actor_type": "user"}, ["credits.granted", "apikey.revoked", "apikey.created"]),
        ({"target_type": "quickscale_apikeys.apikey"}, ["apikey.revoked", "apikey.created"]),
        (
            {"target_type": "quickscale_apikeys.apikey", "target_id": "7"},
            ["apikey.revoked", "apikey.created"],
        ),
        ({"target_id": "3"}, ["credits.granted"]),
        ({"outcome": "failure"}, []),
    ],
)
def test_searching_by_actor_target_and_action(
    staff_web: Client, history: dict[str, Any], query: dict[str, str], actions: list[str]
) -> None:
    assert shown(staff_web.get(PAGE, query)) == actions


def test_searching_by_the_actors_id(staff_web: Client, history: dict[str, Any]) -> None:
    response = staff_web.get(PAGE, {"actor": str(history["user"].pk)})

    assert shown(response) == ["apikey.revoked", "apikey.created"]


def test_searching_by_time(staff_web: Client, history: dict[str, Any]) -> None:
    week_ago = (timezone.now() - timedelta(days=7)).strftime("%Y-%m-%d %H:%M")

    recent = shown(staff_web.get(PAGE, {"since": week_ago}))
    older = shown(staff_web.get(PAGE, {"until": week_ago}))

    assert recent == ["credits.granted", "apikey.revoked", "apikey.created"]
    assert older == ["old.thing"]


def test_bad_filters_are_shown_on_the_form(staff_web: Client, history: dict[str, Any]) -> None:
    response = staff_web.get(PAGE, {"since": "last tuesday", "action": "DROP TABLE"})

    assert response.status_code == 200
    assert response.context["events"] == []
    assert "Enter a valid date/time." in response.content.decode()
    assert "Give an action such as" in response.content.decode()


def test_pages_follow_each_other_by_id(
    staff_web: Client, history: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 1)

    first = staff_web.get(PAGE, {"action": "apikey.*"})
    second = staff_web.get(f"{PAGE}?{first.context['next_query']}")

    assert shown(first) == ["apikey.revoked"]
    assert first.context["next_query"].startswith("action=apikey.%2A&before=")
    assert shown(second) == ["apikey.created"]
    assert second.context["next_query"] == ""


def test_a_host_can_override_the_template(
    staff_web: Client, history: dict[str, Any], settings: Any, tmp_path: Any
) -> None:
    folder = tmp_path / "quickscale" / "audit"
    folder.mkdir(parents=True)
    (folder / "events.html").write_text("{% for event in events %}[{{ event.action }}]{% endfor %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]

    response = staff_web.get(PAGE, {"action": "credits.*"})

    assert response.content.decode() == "[credits.granted]"


# -- exports --------------------------------------------------------------------------------


def test_the_export_links_carry_the_search(staff_web: Client, history: dict[str, Any]) -> None:
    page = staff_web.get(PAGE, {"action": "apikey.*"}).content.decode()

    assert f"{EXPORT}?action=apikey.%2A&amp;format=jsonl" in page
    assert f"{EXPORT}?action=apikey.%2A&amp;format=csv" in page


def test_a_json_lines_export_has_the_searched_events(
    staff_web: Client, history: dict[str, Any], staff: Any
) -> None:
    response = staff_web.get(EXPORT, {"action": "apikey.*", "format": "jsonl"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/x-ndjson")
    assert "attachment" in response["Content-Disposition"]
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert [line["action"] for line in lines] == ["apikey.created", "apikey.revoked"]
    exported = AuditEvent.objects.get(action="audit.exported")
    assert (exported.actor_id, exported.metadata["filters"]["action"]) == (
        str(staff.pk),
        "apikey.*",
    )


def test_a_csv_export(staff_web: Client, history: dict[str, Any]) -> None:
    response = staff_web.get(EXPORT, {"actor": "grace", "format": "csv"})

    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert response["Content-Type"].startswith("text/csv")
    assert [row["action"] for row in rows] == ["credits.granted"]


@pytest.mark.parametrize("query", [{"format": "xml"}, {"format": "csv", "since": "soon"}])
def test_a_bad_export_request_is_refused(staff_web: Client, query: dict[str, str]) -> None:
    response = staff_web.get(EXPORT, query)

    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="audit.exported").exists()


def test_exports_need_the_same_permission(web: Client, user: Any) -> None:
    web.force_login(user)

    assert web.get(EXPORT, {"format": "jsonl"}).status_code == 403

"""``record()``: what an event stores, where its context comes from, and which actions are kept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import RequestFactory, override_settings

from quickscale.audit.exceptions import InvalidAuditArgument
from quickscale.audit.log import MASK, Target, captures, record
from quickscale.audit.models import AuditEvent
from quickscale.core.context import Actor, context


def test_an_event_stores_the_context_it_was_recorded_in(user: Any) -> None:
    with context(actor=user, ip="198.51.100.4", request_id="req-1", user_agent="curl/8"):
        event = record("report.downloaded", target=user, metadata={"report": "usage"})

    assert event is not None
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.actor_type, event.actor_id, event.actor_repr) == ("user", str(user.pk), str(user))
    assert (event.ip, event.request_id, event.user_agent) == ("198.51.100.4", "req-1", "curl/8")
    assert (event.target_type, event.target_id, event.target_repr) == (
        "auth.user",
        str(user.pk),
        str(user),
    )
    assert event.action == "report.downloaded"
    assert event.outcome == "success"
    assert event.metadata == {"report": "usage"}
    assert isinstance(event.occurred_at, datetime)


def test_the_occurrence_time_comes_from_the_database(user: Any) -> None:
    event = record("report.downloaded")

    assert event is not None
    assert event.occurred_at is not None
    assert AuditEvent.objects.get(pk=event.pk).occurred_at == event.occurred_at


def test_an_explicit_actor_wins_over_the_context(make_user: Callable[..., Any]) -> None:
    someone, operator = make_user(), make_user()

    with context(actor=someone):
        event = record("report.downloaded", actor=operator)

    assert event is not None
    assert event.actor_id == str(operator.pk)


def test_none_records_nobody_as_the_actor(user: Any) -> None:
    with context(actor=user):
        event = record("report.downloaded", actor=None)

    assert event is not None
    assert (event.actor_type, event.actor_id, event.actor_repr) == ("", "", "")


def test_a_system_actor_names_what_acted(db: None) -> None:
    with context(actor=Actor.system("nightly import")):
        event = record("import.finished")

    assert event is not None
    assert (event.actor_type, event.actor_repr) == ("system", "nightly import")


def test_a_target_may_be_described_without_an_instance(db: None) -> None:
    event = record("invoice.sent", target=Target("billing.invoice", "in_42", "Invoice 42"))

    assert event is not None
    assert (event.target_type, event.target_id, event.target_repr) == (
        "billing.invoice",
        "in_42",
        "Invoice 42",
    )


def test_changes_and_metadata_are_stored_as_plain_json(db: None) -> None:
    when = datetime(2026, 1, 31, 12, 0, tzinfo=timezone.utc)
    event = record(
        "plan.changed",
        changes={"price": [Decimal("9.50"), Decimal("12.00")], "renews": [None, when]},
        metadata={"credits": Decimal("100")},
    )

    assert event is not None
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.changes == {"price": ["9.50", "12.00"], "renews": [None, "2026-01-31T12:00:00Z"]}
    assert stored.metadata == {"credits": "100"}


def test_sensitive_fields_are_masked_in_changes_and_metadata(db: None) -> None:
    event = record(
        "user.changed",
        changes={"password": ["pbkdf2$old", "pbkdf2$new"], "email": ["a@x.io", "b@x.io"]},
        metadata={"api_token": "abc", "nested": {"client_secret": "s3"}, "plan": "pro"},
    )

    assert event is not None
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.changes == {"password": [MASK, MASK], "email": ["a@x.io", "b@x.io"]}
    assert stored.metadata == {"api_token": MASK, "nested": {"client_secret": MASK}, "plan": "pro"}


def test_masking_keeps_which_side_of_a_change_was_empty(db: None) -> None:
    event = record("user.changed", changes={"password": [None, "pbkdf2$new"]})

    assert event is not None
    assert event.changes == {"password": [None, MASK]}


@override_settings(QUICKSCALE_AUDIT_MASKED_FIELDS=["iban"])
def test_the_masked_fields_are_a_setting(db: None) -> None:
    event = record("payout.changed", changes={"iban": ["DE1", "DE2"], "password": ["a", "b"]})

    assert event is not None
    assert event.changes == {"iban": [MASK, MASK], "password": ["a", "b"]}


def test_the_event_commits_or_rolls_back_with_the_callers_transaction(db: None) -> None:
    before = AuditEvent.objects.count()

    def change_that_fails() -> None:
        with transaction.atomic():
            record("report.downloaded")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"action": "Downloaded"}, "dotted lowercase name"),
        ({"action": "report"}, "dotted lowercase name"),
        ({"action": "report.downloaded", "outcome": "maybe"}, "outcome must be one of"),
        ({"action": "report.downloaded", "metadata": ["a"]}, "metadata must be a dict"),
        ({"action": "report.downloaded", "metadata": {"when": object()}}, "JSON-serialisable"),
        ({"action": "report.downloaded", "changes": {"name": "new"}}, "[old, new]"),
        ({"action": "report.downloaded", "actor": "ada"}, "actor must be a user"),
        ({"action": "report.downloaded", "target": "ada"}, "target must be a model instance"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_error(
    db: None, arguments: dict[str, Any], message: str
) -> None:
    action = arguments.pop("action")

    with pytest.raises(InvalidAuditArgument, match=message.replace("[", r"\[")):
        record(action, **arguments)


@pytest.mark.parametrize(
    "action", ["a.b", "billing.checkout.session-completed", "row.updated", "x1.y_2.z"]
)
def test_dotted_lowercase_actions_are_accepted(db: None, action: str) -> None:
    event = record(action)

    assert event is not None
    assert event.action == action


def test_nul_characters_are_dropped_from_text_and_json(db: None) -> None:
    with context(user_agent="bad\x00agent"):
        event = record("report.downloaded", metadata={"note": "a\x00b"})

    assert event is not None
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.user_agent == "badagent"
    assert "\x00" not in stored.metadata["note"]


def test_without_middleware_the_request_given_supplies_the_context(
    rf: RequestFactory, user: Any
) -> None:
    request = rf.get("/", REMOTE_ADDR="192.0.2.9", HTTP_X_REQUEST_ID="edge-7")
    request.user = user

    event = record("report.downloaded", request=request)

    assert event is not None
    assert (event.ip, event.request_id) == ("192.0.2.9", "edge-7")
    assert (event.actor_type, event.actor_id) == ("user", str(user.pk))


# -- which actions are captured --------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "exclude", "action", "kept"),
    [
        (["*"], [], "credits.debited", True),
        (["*"], ["credits.debited"], "credits.debited", False),
        (["*"], ["credits"], "credits.granted", False),
        (["*"], ["credits."], "credits.granted", False),
        (["*"], ["credits"], "creditsx.granted", True),
        (["auth", "apikey.revoked"], [], "auth.login", True),
        (["auth", "apikey.revoked"], [], "apikey.revoked", True),
        (["auth", "apikey.revoked"], [], "apikey.created", False),
        ([], [], "auth.login", False),
    ],
)
def test_capture_and_exclude_choose_the_actions_recorded(
    capture: list[str], exclude: list[str], action: str, kept: bool
) -> None:
    with override_settings(QUICKSCALE_AUDIT_CAPTURE=capture, QUICKSCALE_AUDIT_EXCLUDE=exclude):
        assert captures(action) is kept


@override_settings(QUICKSCALE_AUDIT_EXCLUDE=["report"])
def test_an_action_not_captured_writes_nothing(db: None) -> None:
    before = AuditEvent.objects.count()

    assert record("report.downloaded") is None
    assert AuditEvent.objects.count() == before

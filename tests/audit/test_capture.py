"""Automatic capture: every event the audit log records by itself, with its actor, client
address, action and target, written in the transaction of the change."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from quickscale.apikeys.keys import create_key
from quickscale.apikeys.models import APIKey
from quickscale.audit.log import MASK
from quickscale.audit.models import AuditEvent
from quickscale.audit.receivers import ALLAUTH_ACTIONS, connect_allauth
from quickscale.billing.signals import billing_event
from quickscale.core.middleware import RequestContextMiddleware
from quickscale.credits import ledger
from quickscale.credits.models import CreditAccount, CreditTransaction
from quickscale.services import execution
from quickscale.services.models import Service
from quickscale.services.registry import registry
from tests.audit.conftest import CLIENT_IP

Events = Callable[..., list[AuditEvent]]
OneEvent = Callable[[str], AuditEvent]


def assert_event(
    event: AuditEvent,
    *,
    actor: tuple[str, Any],
    target: tuple[str, Any],
    ip: str | None = CLIENT_IP,
) -> None:
    """The stored actor (type, id), target (type, id) and client address of ``event``."""
    assert (event.actor_type, event.actor_id) == (actor[0], str(actor[1]) if actor[1] else "")
    assert (event.target_type, event.target_id) == (target[0], str(target[1]) if target[1] else "")
    assert event.ip == ip


def as_request(
    function: Callable[[HttpRequest], Any], *, user: Any = None, ip: str = CLIENT_IP
) -> Any:
    """Run ``function`` as a host view would: inside a request through the context middleware."""
    result: dict[str, Any] = {}

    def view(request: HttpRequest) -> HttpResponse:
        result["value"] = function(request)
        return HttpResponse()

    request = RequestFactory().post("/", REMOTE_ADDR=ip)
    if user is not None:
        request.user = user
    RequestContextMiddleware(view)(request)
    return result["value"]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


# -- logins ----------------------------------------------------------------------------------


@pytest.fixture
def ada(make_user: Callable[..., Any]) -> Any:
    return make_user(username="ada", password="right-password", is_staff=True)


def test_a_login_is_recorded(web: Client, ada: Any, one_event: OneEvent) -> None:
    web.post("/admin/login/", {"username": "ada", "password": "right-password"})

    event = one_event("auth.login")
    assert_event(event, actor=("user", ada.pk), target=("auth.user", ada.pk))
    assert event.outcome == "success"
    assert event.user_agent == "Tests/1.0"


def test_a_logout_is_recorded(web: Client, ada: Any, one_event: OneEvent) -> None:
    web.force_login(ada)

    web.post("/admin/logout/")

    assert_event(one_event("auth.logout"), actor=("user", ada.pk), target=("auth.user", ada.pk))


def test_a_failed_login_names_the_account_tried_and_no_actor(
    web: Client, ada: Any, one_event: OneEvent
) -> None:
    web.post("/admin/login/", {"username": "ada", "password": "wrong"})

    event = one_event("auth.login_failed")
    assert_event(event, actor=("", None), target=("auth.user", ada.pk))
    assert event.outcome == "failure"
    assert event.metadata["username"] == "ada"
    assert "wrong" not in json.dumps(event.metadata)


def test_a_failed_login_for_an_unknown_name_keeps_the_name(
    web: Client, db: None, one_event: OneEvent
) -> None:
    web.post("/admin/login/", {"username": "nobody", "password": "guess"})

    event = one_event("auth.login_failed")
    assert_event(event, actor=("", None), target=("auth.user", None))
    assert event.target_repr == "nobody"


@pytest.fixture
def allauth_connected() -> Iterator[None]:
    """The allauth receivers, as ``ready()`` connects them when allauth is installed."""
    from allauth.account import signals

    connect_allauth()
    yield
    for name, action in ALLAUTH_ACTIONS.items():
        getattr(signals, name).disconnect(dispatch_uid=f"quickscale_audit.{action}")


@pytest.mark.usefixtures("allauth_connected")
@pytest.mark.parametrize(
    ("signal", "action"),
    [("user_signed_up", "auth.signed_up"), ("password_changed", "auth.password_changed")],
)
def test_allauth_account_events_are_recorded(
    rf: RequestFactory, ada: Any, one_event: OneEvent, signal: str, action: str
) -> None:
    from allauth.account import signals

    request = rf.post("/accounts/", REMOTE_ADDR=CLIENT_IP)
    request.user = ada

    getattr(signals, signal).send(sender=type(ada), request=request, user=ada)

    assert_event(one_event(action), actor=("user", ada.pk), target=("auth.user", ada.pk))


@pytest.mark.usefixtures("allauth_connected")
def test_allauth_email_confirmation_is_recorded(
    rf: RequestFactory, ada: Any, one_event: OneEvent
) -> None:
    from allauth.account import signals

    class Address:
        email = "ada@example.com"
        user = ada

    request = rf.get("/accounts/confirm-email/", REMOTE_ADDR=CLIENT_IP)

    signals.email_confirmed.send(sender=Address, request=request, email_address=Address())

    event = one_event("auth.email_confirmed")
    assert_event(event, actor=("user", ada.pk), target=("auth.user", ada.pk))
    assert event.metadata == {"email": "ada@example.com"}


# -- API keys --------------------------------------------------------------------------------


def test_a_key_created_on_the_keys_page_is_recorded(
    web: Client, user: Any, one_event: OneEvent
) -> None:
    web.force_login(user)

    web.post("/keys/create/", {"name": "CI", "scopes": ["credits:read"], "environment": "live"})

    key = APIKey.objects.get(owner=user)
    event = one_event("apikey.created")
    assert_event(event, actor=("user", user.pk), target=("quickscale_apikeys.apikey", key.pk))
    assert event.metadata["key_id"] == key.key_id
    assert event.metadata["scopes"] == ["credits:read"]
    assert "secret_hash" not in event.metadata


def test_a_rolled_key_is_recorded(web: Client, user: Any, one_event: OneEvent) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])
    web.force_login(user)

    web.post(f"/keys/{key.key_id}/roll/")

    new = APIKey.objects.get(rotated_from=key)
    event = one_event("apikey.rolled")
    assert_event(event, actor=("user", user.pk), target=("quickscale_apikeys.apikey", key.pk))
    assert event.metadata["replaced_by"] == new.key_id
    assert event.changes["expires_at"][0] is None


def test_a_key_revoked_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, user: Any, one_event: OneEvent
) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])

    staff_web.post(
        "/admin/quickscale_apikeys/apikey/",
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )

    event = one_event("apikey.revoked")
    assert_event(event, actor=("user", staff.pk), target=("quickscale_apikeys.apikey", key.pk))
    assert event.metadata["reason"] == "Revoked in the admin."
    assert event.changes["revoked_at"][0] is None


def test_a_key_event_rolls_back_with_the_key(user: Any, new_events: Events) -> None:
    key, _ = create_key(user, "CI", scopes=["credits:read"])

    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        from quickscale.apikeys.keys import revoke_key

        revoke_key(key)
        raise RuntimeError("the surrounding change failed")

    assert new_events("apikey.revoked") == []


# -- credits ---------------------------------------------------------------------------------


def account_target(owner: Any) -> tuple[str, Any]:
    return ("quickscale_credits.creditaccount", CreditAccount.objects.get(owner=owner).pk)


def test_a_grant_is_recorded(user: Any, staff: Any, one_event: OneEvent) -> None:
    as_request(lambda request: ledger.grant(user, 25, source="promotion"), user=staff)

    event = one_event("credits.granted")
    assert_event(event, actor=("user", staff.pk), target=account_target(user))
    assert event.changes == {"balance": ["0.00", "25.00"]}
    assert event.metadata["amount"] == "25.00"


def test_a_grant_names_the_ledgers_actor_when_it_has_one(
    user: Any, staff: Any, one_event: OneEvent
) -> None:
    as_request(lambda request: ledger.grant(user, 5, source="admin", actor=staff))

    assert_event(
        one_event("credits.granted"), actor=("user", staff.pk), target=account_target(user)
    )


def test_a_debit_is_recorded(user: Any, one_event: OneEvent) -> None:
    ledger.grant(user, 10, source="purchase")

    entry = as_request(lambda request: ledger.debit(user, 3, reason="report"), user=user)

    event = one_event("credits.debited")
    assert_event(event, actor=("user", user.pk), target=account_target(user))
    assert event.changes == {"balance": ["10.00", "7.00"]}
    assert event.metadata["entry"] == entry.pk
    assert event.metadata["reason"] == "report"


def test_an_adjustment_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, user: Any, one_event: OneEvent
) -> None:
    ledger.grant(user, 10, source="purchase")
    account = CreditAccount.objects.get(owner=user)
    url = f"/admin/quickscale_credits/creditaccount/{account.pk}/adjust/"
    page = staff_web.get(url).content.decode()
    token = page.split('name="token" value="')[1].split('"')[0]

    staff_web.post(url, {"amount": "-4", "reason": "goodwill", "token": token})

    event = one_event("credits.adjusted")
    assert_event(event, actor=("user", staff.pk), target=account_target(user))
    assert event.changes == {"balance": ["10.00", "6.00"]}
    assert event.metadata["reason"] == "goodwill"


def test_a_refund_is_recorded(user: Any, staff: Any, one_event: OneEvent) -> None:
    ledger.grant(user, 10, source="purchase")
    spent = ledger.debit(user, 4)

    as_request(lambda request: ledger.refund(spent, actor=staff, reason="bug"))

    event = one_event("credits.refunded")
    assert_event(event, actor=("user", staff.pk), target=account_target(user))
    assert event.changes == {"balance": ["6.00", "10.00"]}


def test_a_capture_of_a_paid_run_through_the_api_is_recorded(
    web: Client, user: Any, one_event: OneEvent
) -> None:
    ledger.grant(user, 10, source="purchase")
    key, token = create_key(user, "CI", scopes=["services:write"])

    response = web.post(
        "/api/v1/services/echo/runs",
        json.dumps({"input": {"text": "hi"}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert response.status_code == 201, response.content
    event = one_event("credits.captured")
    assert_event(event, actor=("api_key", user.pk), target=account_target(user))
    assert event.api_key_id == key.key_id


def test_holds_releases_and_bookkeeping_are_left_to_the_ledger(
    user: Any, new_events: Events
) -> None:
    ledger.grant(user, 10, source="purchase")
    ledger.release(ledger.hold(user, 2))

    assert [event.action for event in new_events()] == ["credits.granted"]


@override_settings(QUICKSCALE_AUDIT_EXCLUDE=["credits.debited"])
def test_debits_can_be_left_out_of_the_log(user: Any, new_events: Events) -> None:
    ledger.grant(user, 10, source="purchase")

    ledger.debit(user, 1)

    assert [event.action for event in new_events()] == ["credits.granted"]
    assert CreditTransaction.objects.filter(kind="debit").count() == 1


def test_a_debits_event_names_the_request_user_the_account_and_the_balance_change(
    user: Any, one_event: OneEvent
) -> None:
    ledger.grant(user, 10, source="purchase")

    entry = as_request(lambda request: ledger.debit(user, 3, reason="report"), user=user)

    event = one_event("credits.debited")
    assert_event(event, actor=("user", user.pk), target=account_target(user))
    assert event.changes == {"balance": ["10.00", "7.00"]}
    assert event.metadata == {
        "entry": entry.pk,
        "owner": user.pk,
        "amount": "-3.00",
        "reason": "report",
        "reference": "",
    }


def test_a_debits_event_rolls_back_with_the_debit(user: Any, new_events: Events) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        ledger.debit(user, 3)
        raise RuntimeError("the caller's transaction fails")

    assert [event.action for event in new_events()] == ["credits.granted"]
    assert ledger.balance(user).available == 10


@override_settings(QUICKSCALE_AUDIT_MASKED_FIELDS=["balance", "entry"])
def test_masked_fields_stay_masked_in_credit_events(user: Any, one_event: OneEvent) -> None:
    ledger.grant(user, 10, source="purchase")

    ledger.debit(user, 3)

    event = one_event("credits.debited")
    assert event.changes == {"balance": [MASK, MASK]}
    assert event.metadata["entry"] == MASK
    assert event.metadata["amount"] == "-3.00"


# -- billing ---------------------------------------------------------------------------------


def test_a_billing_event_is_recorded_with_its_target_and_metadata(
    user: Any, one_event: OneEvent
) -> None:
    key, _ = create_key(user, "billing target", scopes=["credits:read"])

    def pay(request: HttpRequest) -> None:
        with transaction.atomic():
            billing_event.send(
                sender=type(key),
                action="billing.payment.succeeded",
                user=user,
                target=key,
                metadata={"payment_intent": "pi_123", "amount": "12.00"},
            )

    as_request(pay, user=user)

    event = one_event("billing.payment.succeeded")
    assert_event(event, actor=("user", user.pk), target=("quickscale_apikeys.apikey", key.pk))
    assert event.metadata == {"payment_intent": "pi_123", "amount": "12.00", "user": user.pk}


def test_a_billing_event_from_a_webhook_acts_for_the_customer(
    user: Any, one_event: OneEvent
) -> None:
    as_request(
        lambda request: billing_event.send(
            sender=None, action="billing.refund.recorded", user=user, target=user, metadata={}
        )
    )

    assert_event(
        one_event("billing.refund.recorded"), actor=("user", user.pk), target=("auth.user", user.pk)
    )


def test_a_billing_event_rolls_back_with_its_transaction(user: Any, new_events: Events) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        billing_event.send(sender=None, action="billing.payment.succeeded", user=user, target=user)
        raise RuntimeError("the payment could not be recorded")

    assert new_events("billing.payment.succeeded") == []


# -- the service catalog ---------------------------------------------------------------------


def service_target(slug: str) -> tuple[str, Any]:
    return ("quickscale_services.service", Service.objects.get(slug=slug).pk)


def test_a_price_changed_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    service = Service.objects.get(slug="echo")

    staff_web.post(
        f"/admin/quickscale_services/service/{service.pk}/change/",
        {"enabled": "on", "price_override": "4.50"},
    )

    event = one_event("services.catalog.price_changed")
    assert_event(event, actor=("user", staff.pk), target=service_target("echo"))
    assert event.changes == {"price_override": [None, "4.50"]}


def test_a_service_disabled_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    service = Service.objects.get(slug="echo")

    staff_web.post(
        "/admin/quickscale_services/service/",
        {"action": "disable", "_selected_action": [service.pk]},
    )

    event = one_event("services.catalog.disabled")
    assert_event(event, actor=("user", staff.pk), target=service_target("echo"))
    assert event.changes == {"enabled": [True, False]}


def test_a_service_enabled_in_the_admin_list_is_recorded(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    Service.objects.filter(slug="echo").update(enabled=False)
    services = list(Service.objects.order_by("name"))
    form = {
        "form-TOTAL_FORMS": str(len(services)),
        "form-INITIAL_FORMS": str(len(services)),
        "_save": "Save",
    }
    for number, service in enumerate(services):
        form[f"form-{number}-id"] = str(service.pk)
        if service.slug == "echo" or service.enabled:
            form[f"form-{number}-enabled"] = "on"
        if service.price_override is not None:
            form[f"form-{number}-price_override"] = str(service.price_override)

    staff_web.post("/admin/quickscale_services/service/", form)

    event = one_event("services.catalog.enabled")
    assert_event(event, actor=("user", staff.pk), target=service_target("echo"))


def test_the_catalog_sync_records_new_changed_and_vanished_services(
    new_events: Events,
) -> None:
    Service.objects.filter(slug="echo").update(name="Old name")
    gone = Service.objects.create(slug="retired", name="Retired")
    registry.unregister("word-count")
    try:
        Service.objects.filter(slug="word-count").delete()
        call_command("services", "sync", stdout=io.StringIO())
    finally:
        from tests.hostapp.services import WordCount

        registry.register(WordCount)

    by_action = {event.action: event for event in new_events()}
    assert set(by_action) == {"services.catalog.updated", "services.catalog.unregistered"}
    updated = by_action["services.catalog.updated"]
    assert_event(
        updated, actor=("system", updated.actor_id), target=service_target("echo"), ip=None
    )
    assert updated.actor_repr == "manage.py services sync"
    assert updated.changes == {"name": ["Old name", "Echo"]}
    assert by_action["services.catalog.unregistered"].target_id == str(gone.pk)


def test_a_service_added_to_the_catalog_is_recorded(db: None, one_event: OneEvent) -> None:
    from tests.hostapp.services import Echo

    Service.objects.filter(slug="echo").delete()

    as_request(lambda request: execution.catalog_entry(Echo))

    event = one_event("services.catalog.created")
    assert_event(event, actor=("", None), target=service_target("echo"))
    assert event.changes["slug"] == [None, "echo"]


# -- the Django admin ------------------------------------------------------------------------


def test_an_object_added_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    staff_web.post("/admin/auth/group/add/", {"name": "Support"})

    group = Group.objects.get(name="Support")
    event = one_event("admin.addition")
    assert_event(event, actor=("user", staff.pk), target=("auth.group", group.pk))
    assert event.target_repr == "Support"
    assert event.metadata["change_message"] == "Added."


def test_an_object_changed_in_the_admin_is_recorded_with_the_change_message(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    group = Group.objects.create(name="Support")

    staff_web.post(f"/admin/auth/group/{group.pk}/change/", {"name": "Customer support"})

    event = one_event("admin.change")
    assert_event(event, actor=("user", staff.pk), target=("auth.group", group.pk))
    assert event.metadata["change_message"] == "Changed Name."
    assert event.metadata["log_entry"] == LogEntry.objects.get().pk


def test_an_object_deleted_in_the_admin_is_recorded(
    staff_web: Client, staff: Any, one_event: OneEvent
) -> None:
    group = Group.objects.create(name="Support")

    staff_web.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})

    assert_event(
        one_event("admin.deletion"), actor=("user", staff.pk), target=("auth.group", group.pk)
    )


def test_objects_deleted_together_in_the_admin_are_each_recorded(
    staff_web: Client, staff: Any, new_events: Events
) -> None:
    groups = [Group.objects.create(name=name) for name in ("One", "Two", "Three")]

    staff_web.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups], "post": "yes"},
    )

    events = new_events("admin.deletion")
    assert Group.objects.count() == 0
    assert sorted(event.target_id for event in events) == sorted(str(g.pk) for g in groups)
    for event in events:
        assert_event(event, actor=("user", staff.pk), target=("auth.group", event.target_id))


def test_deleting_one_object_with_the_action_is_recorded_once(
    staff_web: Client, staff: Any, new_events: Events
) -> None:
    group = Group.objects.create(name="Only")

    staff_web.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [group.pk], "post": "yes"},
    )

    [event] = new_events("admin.deletion")
    assert_event(event, actor=("user", staff.pk), target=("auth.group", group.pk))


def test_the_delete_confirmation_page_records_nothing(
    staff_web: Client, new_events: Events
) -> None:
    groups = [Group.objects.create(name=name) for name in ("One", "Two")]

    response = staff_web.post(
        "/admin/auth/group/",
        {"action": "delete_selected", "_selected_action": [g.pk for g in groups]},
    )

    assert response.status_code == 200
    assert new_events("admin.deletion") == []
    assert Group.objects.count() == 2


def test_recorded_amounts_use_the_ledgers_places(user: Any, one_event: OneEvent) -> None:
    ledger.grant(user, Decimal("1.5"), source="purchase")

    assert one_event("credits.granted").changes == {"balance": ["0.00", "1.50"]}

"""The webhook endpoint: only verified Stripe events are stored, each once, and answered fast.

A refused delivery gets 400 and leaves nothing but its ``RejectedDelivery`` row; an event type
we do not handle gets 200 and is not stored; a stored event is answered 200 even when its
processing fails (the failure is the event's, kept for a replay).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from quickscale.billing import handlers
from quickscale.billing.models import (
    EventStatus,
    Payment,
    RejectedDelivery,
    RejectReason,
    WebhookEvent,
)
from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import DUMMY_TASKS, WEBHOOK_URL, Shop, deliver, sign
from tests.billing.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db


def paid_checkout_event(fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    customer = fake.customer(user)
    session = fake.paid_session(customer, shop.pack, user=user)
    return fake.event("checkout.session.completed", session)


def nothing_but_the_rejection(reason: str) -> None:
    assert list(RejectedDelivery.objects.values_list("reason", flat=True)) == [reason]
    assert WebhookEvent.objects.count() == 0
    assert Payment.objects.count() == 0
    assert CreditTransaction.objects.count() == 0


def test_a_signed_event_is_stored_processed_and_answered_200(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "stored": True}
    stored = WebhookEvent.objects.get()
    assert (stored.stripe_id, stored.type, stored.status) == (
        event["id"],
        "checkout.session.completed",
        EventStatus.PROCESSED,
    )
    assert stored.payload == event
    assert stored.object_id == event["data"]["object"]["id"]
    assert ledger.balance(user).balance == 100
    assert RejectedDelivery.objects.count() == 0


def test_a_bad_signature_is_refused_with_400(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    response = deliver(client, event, secret="whsec_someone_else")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
    nothing_but_the_rejection(RejectReason.BAD_SIGNATURE)
    assert ledger.balance(user).balance == 0


def test_a_body_changed_after_signing_is_refused(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)
    body = json.dumps(event)
    header = sign(body)
    event["data"]["object"]["metadata"]["quickscale_credits"] = "100000"

    response = client.post(
        WEBHOOK_URL,
        data=json.dumps(event),
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )

    assert response.status_code == 400
    nothing_but_the_rejection(RejectReason.BAD_SIGNATURE)


def test_an_expired_timestamp_is_refused_with_400(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    response = deliver(client, event, timestamp=int(time.time()) - 301)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "expired_timestamp"
    nothing_but_the_rejection(RejectReason.EXPIRED_TIMESTAMP)


def test_the_tolerance_is_a_setting(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    with override_settings(QUICKSCALE_BILLING_WEBHOOK_TOLERANCE=3600):
        response = deliver(client, event, timestamp=int(time.time()) - 1800)

    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_a_missing_signature_header_is_refused_with_400(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    response = client.post(WEBHOOK_URL, data=json.dumps(event), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_signature"
    nothing_but_the_rejection(RejectReason.MISSING_SIGNATURE)


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"object": "event", "id": "evt_1", "type": "invoice.paid"}',
        '{"object": "list", "data": []}',
        '{"object": "event", "id": "evt_1", "type": "invoice.paid", "created": "yesterday",'
        ' "data": {"object": {}}}',
    ],
    ids=["not-json", "a-list", "no-data", "not-an-event", "bad-created"],
)
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(
    client: Client, fake: FakeStripe, body: str
) -> None:
    response = deliver(client, body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    nothing_but_the_rejection(RejectReason.MALFORMED)


def test_a_body_that_is_not_utf8_is_refused(client: Client, fake: FakeStripe) -> None:
    response = client.post(
        WEBHOOK_URL,
        data=b"\xff\xfe{}",
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=00"},
    )

    assert response.status_code == 400
    nothing_but_the_rejection(RejectReason.MALFORMED)


def test_a_rejection_keeps_the_sender_and_a_digest_not_the_body(
    client: Client, fake: FakeStripe
) -> None:
    body = '{"object": "event", "secret": "do not keep me"}'

    client.post(
        WEBHOOK_URL,
        data=body,
        content_type="application/json",
        headers={"Stripe-Signature": "t=1,v1=forged", "User-Agent": "curl/8"},
        REMOTE_ADDR="203.0.113.9",
    )

    rejected = RejectedDelivery.objects.get()
    assert rejected.ip == "203.0.113.9"
    assert rejected.body_size == len(body)
    assert len(rejected.body_sha256) == 64
    assert rejected.headers["User-Agent"] == "curl/8"
    assert rejected.headers["Stripe-Signature"] == "t=1,v1=forged"
    assert "do not keep me" not in json.dumps(rejected.headers) + rejected.detail


def test_an_unknown_event_type_is_answered_200_and_not_stored(
    client: Client, fake: FakeStripe, user: Any
) -> None:
    customer = fake.customer(user)
    event = fake.event("customer.updated", customer)

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "stored": False}
    assert WebhookEvent.objects.count() == 0
    assert RejectedDelivery.objects.count() == 0


def test_a_repeated_delivery_is_stored_and_processed_once(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    responses = [deliver(client, event) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    stored = WebhookEvent.objects.get()
    assert stored.attempts == 1
    assert ledger.balance(user).balance == 100
    assert Payment.objects.count() == 1


def test_only_post_is_allowed(client: Client, fake: FakeStripe) -> None:
    assert client.get(WEBHOOK_URL).status_code == 405


def test_without_billing_settings_the_webhook_answers_503_and_stores_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    with override_settings(QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET=""):
        response = deliver(client, event)

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "billing_not_configured"
    assert "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET" in error["message"]
    assert WebhookEvent.objects.count() == 0
    assert RejectedDelivery.objects.count() == 0


def test_a_failing_handler_marks_the_event_failed_and_still_answers_200(
    client: Client, fake: FakeStripe, shop: Shop, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = paid_checkout_event(fake, shop, user)
    fake.store["customers"].clear()  # the customer cannot be looked up: the handler raises
    event["data"]["object"]["customer"] = "cus_unknown"

    response = deliver(client, event)

    assert response.status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.status == EventStatus.FAILED
    assert "cus_unknown" in stored.error
    assert stored.attempts == 1
    assert Payment.objects.count() == 0
    assert ledger.balance(user).balance == 0
    assert "Processing Stripe event" in caplog.text


def test_processing_deferred_to_a_worker_leaves_the_event_pending(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)

    with override_settings(TASKS=DUMMY_TASKS):
        response = deliver(client, event)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == EventStatus.PENDING
    assert ledger.balance(user).balance == 0


def test_stripe_out_of_reach_while_processing_fails_the_event_and_still_answers_200(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    # No customer row here yet: processing asks Stripe whose customer it is.
    event = paid_checkout_event(fake, shop, user)
    fake.unreachable = True

    response = deliver(client, event)

    assert response.status_code == 200
    assert response.json() == {"received": True, "stored": True}
    stored = WebhookEvent.objects.get()
    assert stored.status == EventStatus.FAILED
    assert stored.error.startswith("APIConnectionError:")
    assert ledger.balance(user).balance == 0
    assert Payment.objects.count() == 0

    fake.unreachable = False
    assert handlers.process(stored.pk).status == EventStatus.PROCESSED
    assert ledger.balance(user).balance == 100


def test_events_are_processed_when_django_tasks_db_is_importable_but_not_installed(
    client: Client, fake: FakeStripe, shop: Shop, user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = paid_checkout_event(fake, shop, user)
    # As in a process whose settings never installed the app: its models were never imported,
    # and importing them now would raise (their app is not installed).
    monkeypatch.delitem(sys.modules, "django_tasks_db.models", raising=False)
    without = [name for name in settings.INSTALLED_APPS if name != "django_tasks_db"]

    with override_settings(INSTALLED_APPS=without):
        responses = [deliver(client, event) for _ in range(2)]

    assert [response.status_code for response in responses] == [200, 200]
    stored = WebhookEvent.objects.get()
    assert (stored.stripe_id, stored.status) == (event["id"], EventStatus.PROCESSED)
    assert ledger.balance(user).balance == 100
    assert CreditTransaction.objects.count() == 1


def test_the_sweep_processes_an_event_a_dead_worker_left_pending_once(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)
    with override_settings(TASKS=DUMMY_TASKS):  # queued for a worker that never comes
        deliver(client, event)
    stored = WebhookEvent.objects.get()

    # A few minutes is not long: a worker may still be on its way.
    assert handlers.sweep_events(timezone.now() + timedelta(minutes=4)) == {
        "events_processed": 0,
        "events_failed": 0,
    }
    assert ledger.balance(user).balance == 0

    later = timezone.now() + timedelta(minutes=6)
    assert handlers.sweep_events(later) == {"events_processed": 1, "events_failed": 0}
    stored.refresh_from_db()
    assert stored.status == EventStatus.PROCESSED
    assert ledger.balance(user).balance == 100
    # The task that finally runs, or the next sweep, changes nothing.
    assert handlers.process(stored.pk).status == EventStatus.PROCESSED
    assert handlers.sweep_events(later) == {"events_processed": 0, "events_failed": 0}
    assert ledger.balance(user).balance == 100


def test_the_sweep_retries_a_failed_event_a_bounded_number_of_times(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    event = paid_checkout_event(fake, shop, user)
    fake.unreachable = True
    deliver(client, event)  # processing failed: Stripe out of reach
    later = timezone.now() + timedelta(minutes=6)

    for _ in range(handlers.SWEEP_ATTEMPTS - 1):
        assert handlers.sweep_events(later) == {"events_processed": 0, "events_failed": 1}
    # Five attempts in all: the event now waits for staff (``billing replay``).
    assert handlers.sweep_events(later) == {"events_processed": 0, "events_failed": 0}
    assert WebhookEvent.objects.get().attempts == handlers.SWEEP_ATTEMPTS

    fake.unreachable = False
    assert handlers.process(WebhookEvent.objects.get().pk).status == EventStatus.PROCESSED
    assert ledger.balance(user).balance == 100

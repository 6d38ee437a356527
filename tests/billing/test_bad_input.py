"""What a client sends that is not a Stripe id (a NUL byte, non-ASCII, spaces, too long) gets a
clear answer and changes nothing, on every database: PostgreSQL refuses a NUL in text, so an
unchecked id would fail the query (a 500)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client, override_settings
from django.urls import reverse

from quickscale.billing.models import (
    Customer,
    Payment,
    RejectedDelivery,
    RejectReason,
    Subscription,
    WebhookEvent,
)
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import SANDBOX_SETTINGS, SandboxShop, Shop, deliver
from tests.billing.fake_stripe import FakeStripe

CHECKOUT = reverse("quickscale_billing:checkout")
SUCCESS = reverse("quickscale_billing:checkout_success")
PRICING = reverse("quickscale_billing:pricing")
CHANGE = reverse("quickscale_billing:change_plan")

NOT_IDS = ["a\x00b", "price_\x00", "price_é", "price 1", "price_\n", "p" * 256]
NOT_ID_NAMES = ["nul", "trailing-nul", "non-ascii", "space", "newline", "too-long"]


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def message_of(response: Any) -> str:
    [message] = list(get_messages(response.wsgi_request))
    return str(message)


def nothing_recorded() -> None:
    assert Customer.objects.count() == 0
    assert Payment.objects.count() == 0
    assert CreditTransaction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("price", NOT_IDS, ids=NOT_ID_NAMES)
def test_checkout_refuses_a_price_that_is_not_a_stripe_id(
    signed_in: Client, fake: FakeStripe, shop: Shop, price: str
) -> None:
    before = len(fake.requests)

    response = signed_in.post(CHECKOUT, {"price": price})

    assert (response.status_code, response.url) == (303, PRICING)
    assert message_of(response) == (
        "The price is not a Stripe id (1 to 255 printable ASCII characters, no spaces)."
    )
    assert len(fake.requests) == before
    nothing_recorded()


@pytest.mark.django_db
@pytest.mark.parametrize("session_id", NOT_IDS, ids=NOT_ID_NAMES)
def test_the_success_page_of_a_session_id_that_is_not_one_is_404(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any, session_id: str
) -> None:
    fake.customer(user)
    Customer.objects.create(user=user, stripe_id="cus_mine")
    before = len(fake.requests)

    response = signed_in.get(SUCCESS, {"session_id": session_id})

    assert response.status_code == 404
    assert len(fake.requests) == before


@pytest.mark.django_db
@pytest.mark.parametrize("price", NOT_IDS, ids=NOT_ID_NAMES)
def test_a_plan_change_to_a_price_that_is_not_a_stripe_id_is_refused(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any, price: str
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(signed_in, fake.event("customer.subscription.created", subscription))
    before = list(Subscription.objects.values_list("stripe_id", "price_id", "status"))
    requests = len(fake.requests)

    response = signed_in.post(CHANGE, {"price": price})

    assert (response.status_code, response.url) == (303, PRICING)
    assert message_of(response).startswith("The price is not a Stripe id")
    assert list(Subscription.objects.values_list("stripe_id", "price_id", "status")) == before
    assert len(fake.requests) == requests


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["portal", "cancel_plan", "resume_plan"])
def test_pages_without_ids_ignore_what_else_is_posted(
    signed_in: Client, fake: FakeStripe, shop: Shop, name: str
) -> None:
    response = signed_in.post(reverse(f"quickscale_billing:{name}"), {"price": "a\x00b"})

    assert response.status_code == 303
    assert "\x00" not in message_of(response)


# -- the webhook ----------------------------------------------------------------------------


def event_with(fake: FakeStripe, **changes: Any) -> dict[str, Any]:
    event = fake.event("checkout.session.completed", {"id": "cs_test_1", "object": "checkout"})
    event.update(changes)
    return event


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"id": "evt_\x00"}, '"id" is not an event id'),
        ({"id": "evt_" + "x" * 252}, '"id" is not an event id'),
        ({"data": {"object": {"id": "cs_\x00", "object": "checkout"}}}, '"data.object.id"'),
        (
            {"data": {"object": {"id": "cs_1", "object": "checkout", "name": "a\x00b"}}},
            "a NUL character",
        ),
    ],
    ids=["nul-in-id", "id-too-long", "nul-in-object-id", "nul-in-the-object"],
)
def test_a_signed_event_with_a_nul_or_a_bad_id_is_refused_as_malformed(
    client: Client, fake: FakeStripe, change: dict[str, Any], detail: str
) -> None:
    response = deliver(client, event_with(fake, **change))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed"
    assert detail in response.json()["error"]["message"]
    assert list(RejectedDelivery.objects.values_list("reason", flat=True)) == [
        RejectReason.MALFORMED
    ]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_not_a_nul(client: Client, fake: FakeStripe) -> None:
    event = event_with(fake, data={"object": {"id": "cs_1", "object": "checkout"}})
    event["data"]["object"]["note"] = "C:\\u0000"  # a backslash, then the text "u0000"
    assert "\\\\u0000" in json.dumps(event)

    response = deliver(client, event)

    assert response.status_code == 200
    assert WebhookEvent.objects.get().payload["data"]["object"]["note"] == "C:\\u0000"


# -- the payment sandbox's pages --------------------------------------------------------------


@pytest.mark.parametrize("session_id", NOT_IDS, ids=NOT_ID_NAMES)
@pytest.mark.parametrize("page", ["sandbox_checkout", "sandbox_portal"])
def test_a_sandbox_page_of_an_id_that_is_not_one_is_404(
    client: Client, user: Any, sandbox: SandboxShop, page: str, session_id: str
) -> None:
    client.force_login(user)

    with override_settings(**SANDBOX_SETTINGS):
        url = reverse(f"quickscale_billing:{page}", args=[session_id])
        shown = client.get(url)
        posted = client.post(url, {"action": "pay"})

    assert shown.status_code == 404
    assert posted.status_code in (404, 405)
    nothing_recorded()


@pytest.mark.parametrize("subscription_id", NOT_IDS, ids=NOT_ID_NAMES)
def test_advancing_a_subscription_id_that_is_not_one_is_404(
    admin_client: Client, sandbox: SandboxShop, subscription_id: str
) -> None:
    with override_settings(**SANDBOX_SETTINGS):
        response = admin_client.post(
            reverse("quickscale_billing:sandbox_advance", args=[subscription_id])
        )

    assert response.status_code == 404

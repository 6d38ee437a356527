"""Stripe out of reach: every page that asks Stripe answers a styled 502 saying so (nothing was
charged, try again in a minute) and changes nothing; never a 500, never a page that pretends it
worked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from quickscale.billing.models import Customer, Payment, Subscription
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db

CHECKOUT = reverse("quickscale_billing:checkout")
SUCCESS = reverse("quickscale_billing:checkout_success")
PORTAL = reverse("quickscale_billing:portal")
CHANGE = reverse("quickscale_billing:change_plan")
CANCEL = reverse("quickscale_billing:cancel_plan")
RESUME = reverse("quickscale_billing:resume_plan")

#: What a scenario asks: the method, the URL and the data of the request made with Stripe down.
Request = tuple[str, str, dict[str, str]]


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def subscribed(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(client, fake.event("customer.subscription.created", subscription))
    return subscription


def first_checkout(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    return "post", CHECKOUT, {"price": shop.pack["id"]}


def checkout_of_a_customer(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    client.post(CHECKOUT, {"price": shop.pack["id"]})  # the customer is made at Stripe
    return "post", CHECKOUT, {"price": shop.pack["id"]}


def success_page(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    response = client.post(CHECKOUT, {"price": shop.pack["id"]})
    return "get", SUCCESS, {"session_id": response.url.rsplit("/", 1)[1]}


def portal(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    client.post(CHECKOUT, {"price": shop.pack["id"]})
    return "post", PORTAL, {}


def change_plan(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    subscribed(client, fake, shop, user)
    return "post", CHANGE, {"price": shop.pro["id"]}


def cancel_plan(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    subscribed(client, fake, shop, user)
    return "post", CANCEL, {}


def resume_plan(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> Request:
    subscription = subscribed(client, fake, shop, user)
    fake.store["subscriptions"][subscription["id"]]["cancel_at_period_end"] = True
    deliver(client, fake.event("customer.subscription.updated", subscription))
    return "post", RESUME, {}


SCENARIOS = [
    first_checkout,
    checkout_of_a_customer,
    success_page,
    portal,
    change_plan,
    cancel_plan,
    resume_plan,
]


def records() -> tuple[Any, ...]:
    """Everything a billing page could change here."""
    return (
        list(Customer.objects.values_list("stripe_id", flat=True)),
        Payment.objects.count(),
        list(
            Subscription.objects.order_by("pk").values_list(
                "stripe_id", "status", "price_id", "cancel_at_period_end"
            )
        ),
        CreditTransaction.objects.count(),
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_page_that_asks_stripe_answers_502_in_the_site_layout_when_stripe_is_out_of_reach(
    signed_in: Client,
    fake: FakeStripe,
    shop: Shop,
    user: Any,
    scenario: Callable[..., Request],
) -> None:
    method, url, data = scenario(signed_in, fake, shop, user)
    before = records()
    fake.unreachable = True

    response = getattr(signed_in, method)(url, data)

    assert response.status_code == 502
    assert [template.name for template in response.templates][:2] == [
        "quickscale/billing/stripe_unavailable.html",
        "quickscale/base.html",
    ]
    body = response.content.decode()
    assert "Stripe could not be reached" in body
    assert "Nothing was charged" in body
    assert "try again in a minute" in body
    assert records() == before


@pytest.mark.parametrize(
    ("scenario", "path"),
    [
        (first_checkout, "customers"),
        (checkout_of_a_customer, "checkout/sessions"),
        (change_plan, "subscriptions/{subscription}"),
    ],
    ids=["first_checkout", "checkout", "change_plan"],
)
def test_a_stripe_error_answer_is_a_502_page_too(
    signed_in: Client,
    fake: FakeStripe,
    shop: Shop,
    user: Any,
    scenario: Callable[..., Request],
    path: str,
) -> None:
    method, url, data = scenario(signed_in, fake, shop, user)
    subscription = Subscription.objects.first()
    fake.failing.add(path.format(subscription=subscription.stripe_id if subscription else ""))
    before = records()

    response = getattr(signed_in, method)(url, data)

    assert response.status_code == 502
    assert "Stripe could not be reached" in response.content.decode()
    assert records() == before


def test_staff_see_what_stripe_answered(
    client: Client, fake: FakeStripe, shop: Shop, admin_user: Any
) -> None:
    client.force_login(admin_user)
    fake.unreachable = True

    response = client.post(CHECKOUT, {"price": shop.pack["id"]})

    assert response.status_code == 502
    assert "APIConnectionError" in response.content.decode()


def test_the_page_works_again_once_stripe_is_back(
    signed_in: Client, fake: FakeStripe, shop: Shop
) -> None:
    fake.unreachable = True
    assert signed_in.post(CHECKOUT, {"price": shop.pack["id"]}).status_code == 502

    fake.unreachable = False
    response = signed_in.post(CHECKOUT, {"price": shop.pack["id"]})

    assert response.status_code == 303
    assert response.url.startswith("https://checkout.stripe.test/")

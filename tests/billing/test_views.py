"""The billing pages: pricing, checkout and its return pages, "my billing"; and what they do
while billing is not configured (a clear page, never an error)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from quickscale.billing.models import Customer, Payment, Price, Product
from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe

PRICING = reverse("quickscale_billing:pricing")
CHECKOUT = reverse("quickscale_billing:checkout")
SUCCESS = reverse("quickscale_billing:checkout_success")
ACCOUNT = reverse("quickscale_billing:account")
PORTAL = reverse("quickscale_billing:portal")

pytestmark = pytest.mark.django_db

NO_BILLING = {
    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY": "",
    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY": "",
    "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET": "",
}


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def buy(client: Client, price_id: str) -> Any:
    return client.post(CHECKOUT, {"price": price_id})


# -- pricing ----------------------------------------------------------------------------------


def test_pricing_lists_plans_and_packs_on_sale(
    client: Client, fake: FakeStripe, shop: Shop
) -> None:
    response = client.get(PRICING)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Credit pack" in body and "10.00 USD" in body and "100 credits" in body
    assert "Plans" in body and "29.00 USD" in body and "200 credits every month" in body
    assert "Log in to buy" in body


@override_settings(ROOT_URLCONF="tests.billing.urls_host_pricing")
def test_a_host_adds_to_the_pricing_page_with_a_template_of_its_own(
    client: Client, fake: FakeStripe, shop: Shop
) -> None:
    response = client.get("/pricing/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "100 credits" in body
    assert "What a credit buys" in body


def test_pricing_offers_upgrade_and_downgrade_to_someone_with_a_plan(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(signed_in, fake.event("customer.subscription.created", subscription))

    body = signed_in.get(PRICING).content.decode()

    assert "Your plan" in body
    assert "Upgrade" in body
    assert "Subscribe" not in body


# -- checkout ---------------------------------------------------------------------------------


def test_buying_a_pack_sends_the_buyer_to_stripe_checkout(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    response = buy(signed_in, shop.pack["id"])

    assert response.status_code == 303
    [(_, _, params)] = fake.calls("POST", "checkout/sessions")
    session = fake.store["checkout/sessions"][response.url.rsplit("/", 1)[1]]
    assert response.url == session["url"]
    assert params["mode"] == "payment"
    assert params["customer"] == Customer.objects.get(user=user).stripe_id
    assert params["line_items"] == [{"price": shop.pack["id"], "quantity": "1"}]
    assert params["metadata"] == {
        "quickscale_user_id": str(user.pk),
        "quickscale_price": shop.pack["id"],
        "quickscale_credits": "100.00",
    }
    assert params["success_url"].endswith(
        "/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert ledger.balance(user).balance == 0


def test_the_stripe_customer_is_made_once(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    buy(signed_in, shop.pack["id"])
    buy(signed_in, shop.pack["id"])

    [(_, _, params)] = fake.calls("POST", "customers")
    assert params["metadata"] == {"quickscale_user_id": str(user.pk)}
    assert Customer.objects.filter(user=user).count() == 1


def test_subscribing_opens_a_subscription_checkout(
    signed_in: Client, fake: FakeStripe, shop: Shop
) -> None:
    buy(signed_in, shop.basic["id"])

    [(_, _, params)] = fake.calls("POST", "checkout/sessions")
    assert params["mode"] == "subscription"
    assert params["subscription_data"]["metadata"]["quickscale_price"] == shop.basic["id"]


def test_a_second_plan_is_refused(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(signed_in, fake.event("customer.subscription.created", subscription))

    response = buy(signed_in, shop.pro["id"])

    assert response.status_code == 303
    assert response.url == PRICING
    assert fake.calls("POST", "checkout/sessions") == []
    assert "change it instead" in signed_in.get(PRICING).content.decode()


def test_a_price_not_on_sale_is_refused(signed_in: Client, fake: FakeStripe, shop: Shop) -> None:
    Price.objects.filter(stripe_id=shop.pack["id"]).update(active=False)

    response = buy(signed_in, shop.pack["id"])

    assert (response.status_code, response.url) == (303, PRICING)
    assert fake.calls("POST", "checkout/sessions") == []


def test_checkout_needs_a_signed_in_person(client: Client, fake: FakeStripe, shop: Shop) -> None:
    response = buy(client, shop.pack["id"])

    assert response.status_code == 302
    assert "login" in response.url


# -- the success page -------------------------------------------------------------------------


def test_the_success_page_says_processing_until_the_webhook_and_grants_nothing(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    response = buy(signed_in, shop.pack["id"])
    session = fake.store["checkout/sessions"][response.url.rsplit("/", 1)[1]]
    session.update(status="complete", payment_status="paid")

    pages = [signed_in.get(SUCCESS, {"session_id": session["id"]}) for _ in range(2)]

    assert [page.status_code for page in pages] == [200, 200]
    assert "Payment processing" in pages[1].content.decode()
    assert ledger.balance(user).balance == 0
    assert CreditTransaction.objects.count() == 0
    assert Payment.objects.count() == 0


def test_the_success_page_shows_the_credits_once_the_webhook_added_them(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    deliver(signed_in, fake.event("checkout.session.completed", session))

    for _ in range(2):
        page = signed_in.get(SUCCESS, {"session_id": session["id"]})
        assert "100 credits were added" in page.content.decode()

    assert ledger.balance(user).balance == 100


def test_another_users_session_shows_nothing_and_grants_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any, make_user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    intruder = make_user()
    fake.customer(intruder)
    client.force_login(intruder)
    Customer.objects.create(user=intruder, stripe_id="cus_intruder")

    before_webhook = client.get(SUCCESS, {"session_id": session["id"]})
    deliver(client, fake.event("checkout.session.completed", session))
    after_webhook = client.get(SUCCESS, {"session_id": session["id"]})

    assert (before_webhook.status_code, after_webhook.status_code) == (404, 404)
    assert ledger.balance(intruder).balance == 0
    assert ledger.balance(user).balance == 100


def test_a_made_up_session_id_is_404(signed_in: Client, fake: FakeStripe, shop: Shop) -> None:
    buy(signed_in, shop.pack["id"])

    assert signed_in.get(SUCCESS, {"session_id": "cs_test_nope"}).status_code == 404
    assert signed_in.get(SUCCESS).status_code == 404


# -- my billing and the portal ----------------------------------------------------------------


def test_my_billing_lists_my_payments_and_refunds_only(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any, make_user: Any
) -> None:
    mine = fake.paid_session(fake.customer(user), shop.pack, user=user)
    other = make_user()
    theirs = fake.paid_session(fake.customer(other), shop.pack, user=other)
    deliver(signed_in, fake.event("checkout.session.completed", mine))
    deliver(signed_in, fake.event("checkout.session.completed", theirs))
    fake.refund(mine["_charge"], 400)
    deliver(signed_in, fake.event("charge.refunded", fake.store["charges"][mine["_charge"]]))

    response = signed_in.get(ACCOUNT)

    assert response.status_code == 200
    assert [p.checkout_session_id for p in response.context["payments"]] == [mine["id"]]
    assert len(response.context["refunds"]) == 1
    body = response.content.decode()
    assert "Partially Refunded" in body and "4.00 USD" in body
    assert '<td class="qs-amount">40</td>' in body  # the credits taken back


def test_the_portal_opens_for_a_customer(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    buy(signed_in, shop.pack["id"])

    response = signed_in.post(PORTAL)

    assert response.status_code == 303
    assert response.url.startswith("https://billing.stripe.test/")
    [(_, _, params)] = fake.calls("POST", "billing_portal/sessions")
    assert params["return_url"].endswith(ACCOUNT)


def test_the_portal_needs_a_purchase_first(signed_in: Client, fake: FakeStripe) -> None:
    response = signed_in.post(PORTAL)

    assert (response.status_code, response.url) == (303, ACCOUNT)
    assert fake.calls("POST", "billing_portal/sessions") == []


def test_plan_pages_change_cancel_and_resume(
    signed_in: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(signed_in, fake.event("customer.subscription.created", subscription))

    changed = signed_in.post(reverse("quickscale_billing:change_plan"), {"price": shop.pro["id"]})
    canceled = signed_in.post(reverse("quickscale_billing:cancel_plan"))
    page = signed_in.get(ACCOUNT).content.decode()
    resumed = signed_in.post(reverse("quickscale_billing:resume_plan"))

    assert [changed.status_code, canceled.status_code, resumed.status_code] == [303, 303, 303]
    assert "will not renew" in page
    stored = fake.store["subscriptions"][subscription["id"]]
    assert stored["items"]["data"][0]["price"]["id"] == shop.pro["id"]
    assert stored["cancel_at_period_end"] is False


# -- billing not configured -------------------------------------------------------------------


def seed_catalog() -> None:
    """What the example project seeds while billing is off: a pack and a plan."""
    product = Product.objects.create(stripe_id="prod_demo", name="Demo credits")
    Price.objects.create(
        stripe_id="price_demo_pack",
        product=product,
        kind="pack",
        currency="usd",
        unit_amount=500,
        credits=50,
    )
    Price.objects.create(
        stripe_id="price_demo_plan",
        product=product,
        kind="plan",
        currency="usd",
        unit_amount=1500,
        interval="month",
        interval_count=1,
        credits=300,
    )


@override_settings(**NO_BILLING)
def test_without_billing_pricing_lists_the_catalog_as_unavailable(
    client: Client, user: Any
) -> None:
    seed_catalog()
    client.force_login(user)

    response = client.get(PRICING)

    assert response.status_code == 200
    body = response.content.decode()
    assert "billing is not configured" in body
    assert body.count("Unavailable") == 2
    assert "5.00 USD" in body and "15.00 USD" in body
    assert 'name="price"' not in body


@override_settings(**NO_BILLING)
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("post", "checkout"),
        ("get", "checkout_success"),
        ("post", "portal"),
        ("post", "change_plan"),
        ("post", "cancel_plan"),
        ("post", "resume_plan"),
    ],
)
def test_without_billing_stripe_pages_say_so_with_503(
    client: Client, user: Any, method: str, name: str
) -> None:
    client.force_login(user)

    response = getattr(client, method)(reverse(f"quickscale_billing:{name}"), {"price": "x"})

    assert response.status_code == 503
    assert "Billing is not configured" in response.content.decode()
    assert "QUICKSCALE_BILLING_STRIPE_SECRET_KEY" not in response.content.decode()


@override_settings(**NO_BILLING)
def test_without_billing_staff_see_the_missing_settings(client: Client, admin_user: Any) -> None:
    client.force_login(admin_user)

    response = client.post(CHECKOUT, {"price": "x"})

    assert response.status_code == 503
    assert "QUICKSCALE_BILLING_STRIPE_SECRET_KEY" in response.content.decode()


@override_settings(**NO_BILLING)
def test_without_billing_my_billing_and_the_cancel_page_still_work(
    client: Client, user: Any
) -> None:
    client.force_login(user)

    account = client.get(ACCOUNT)
    canceled = client.get(reverse("quickscale_billing:checkout_canceled"))

    assert (account.status_code, canceled.status_code) == (200, 200)
    assert "Billing is not configured" in account.content.decode()

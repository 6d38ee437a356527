"""Subscriptions: our copy always ends as Stripe's latest state, whatever the order of events;
plan changes and cancellations go through Stripe."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.test import Client

from quickscale.billing import checkout
from quickscale.billing.client import get_client
from quickscale.billing.exceptions import PriceUnavailable, SubscriptionConflict
from quickscale.billing.models import EventStatus, Subscription, WebhookEvent
from quickscale.credits import ledger
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe


@pytest.fixture
def stripe_subscription(fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    return fake.subscription(fake.customer(user), shop.basic, status="incomplete")


def ours(stripe_subscription: dict[str, Any]) -> Subscription:
    return Subscription.objects.select_related("price").get(stripe_id=stripe_subscription["id"])


def test_a_created_subscription_is_mirrored_for_its_user(
    client: Client, fake: FakeStripe, stripe_subscription: dict[str, Any], user: Any
) -> None:
    deliver(client, fake.event("customer.subscription.created", stripe_subscription))

    subscription = ours(stripe_subscription)
    item = stripe_subscription["items"]["data"][0]
    assert (subscription.user, subscription.status) == (user, "incomplete")
    assert subscription.price is not None
    assert subscription.price.stripe_id == item["price"]["id"]
    assert subscription.current_period_end is not None
    assert int(subscription.current_period_end.timestamp()) == item["current_period_end"]
    assert subscription.cancel_at_period_end is False


def test_an_old_event_arriving_last_still_leaves_the_latest_state(
    client: Client, fake: FakeStripe, stripe_subscription: dict[str, Any]
) -> None:
    created = fake.event("customer.subscription.created", stripe_subscription)
    stripe_subscription["status"] = "active"
    activated = fake.event("customer.subscription.updated", stripe_subscription)
    stripe_subscription["cancel_at_period_end"] = True
    canceling = fake.event("customer.subscription.updated", stripe_subscription)

    for event in (canceling, activated, created):
        deliver(client, event)

    subscription = ours(stripe_subscription)
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
    assert subscription.last_event_at is not None
    assert int(subscription.last_event_at.timestamp()) == canceling["created"]


def test_each_event_rereads_the_subscription_from_stripe(
    client: Client, fake: FakeStripe, stripe_subscription: dict[str, Any]
) -> None:
    deliver(client, fake.event("customer.subscription.created", stripe_subscription))

    assert fake.calls("GET", f"subscriptions/{stripe_subscription['id']}")


def test_a_deleted_subscription_is_canceled(
    client: Client, fake: FakeStripe, stripe_subscription: dict[str, Any]
) -> None:
    deliver(client, fake.event("customer.subscription.created", stripe_subscription))
    stripe_subscription.update(status="canceled", ended_at=fake.tick(), canceled_at=fake.clock)

    deliver(client, fake.event("customer.subscription.deleted", stripe_subscription))

    subscription = ours(stripe_subscription)
    assert subscription.status == "canceled"
    assert subscription.ended_at is not None


def test_a_subscription_stripe_no_longer_has_is_applied_from_the_event(
    client: Client, fake: FakeStripe, stripe_subscription: dict[str, Any]
) -> None:
    deliver(client, fake.event("customer.subscription.created", stripe_subscription))
    stripe_subscription["status"] = "canceled"
    event = fake.event("customer.subscription.deleted", stripe_subscription)
    del fake.store["subscriptions"][stripe_subscription["id"]]

    deliver(client, event)

    assert ours(stripe_subscription).status == "canceled"


def test_a_subscription_of_a_stranger_fails_and_is_kept_for_replay(
    client: Client, fake: FakeStripe, shop: Shop
) -> None:
    stranger = fake.add(
        "customers", {"object": "customer", "email": "x@example.com", "metadata": {}}
    )
    subscription = fake.subscription(stranger, shop.basic)

    deliver(client, fake.event("customer.subscription.created", subscription))

    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.FAILED
    assert "belongs to no user" in event.error
    assert Subscription.objects.count() == 0


# -- plan changes -----------------------------------------------------------------------------


@pytest.fixture
def on_basic(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> dict[str, Any]:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(client, fake.event("customer.subscription.created", subscription))
    return subscription


def update_params(fake: FakeStripe, subscription: dict[str, Any]) -> dict[str, Any]:
    [(_, _, params)] = fake.calls("POST", f"subscriptions/{subscription['id']}")
    return params


def test_an_upgrade_starts_a_new_period_paid_now(
    fake: FakeStripe, shop: Shop, on_basic: dict[str, Any], user: Any
) -> None:
    subscription = checkout.change_plan(user, shop.pro["id"])

    params = update_params(fake, on_basic)
    assert params["items"] == [{"id": on_basic["items"]["data"][0]["id"], "price": shop.pro["id"]}]
    assert params["proration_behavior"] == "always_invoice"
    # The object form: since API version 2026-09-30.endive Stripe refuses the string "now".
    assert params["billing_cycle_anchor"] == {"type": "now"}
    assert params["payment_behavior"] == "pending_if_incomplete"
    assert subscription.price is not None and subscription.price.stripe_id == shop.pro["id"]
    assert ledger.balance(user).balance == 0  # the new period's invoice.paid grants


def test_a_downgrade_waits_for_the_next_renewal(
    fake: FakeStripe, shop: Shop, client: Client, user: Any
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.pro)
    deliver(client, fake.event("customer.subscription.created", subscription))

    checkout.change_plan(user, shop.basic["id"])

    params = update_params(fake, subscription)
    assert params["proration_behavior"] == "none"
    assert "billing_cycle_anchor" not in params


def test_changing_to_the_same_plan_is_refused(
    fake: FakeStripe, shop: Shop, on_basic: dict[str, Any], user: Any
) -> None:
    with pytest.raises(SubscriptionConflict):
        checkout.change_plan(user, shop.basic["id"])
    assert fake.calls("POST", f"subscriptions/{on_basic['id']}") == []


def test_a_pack_is_not_a_plan_to_change_to(
    fake: FakeStripe, shop: Shop, on_basic: dict[str, Any], user: Any
) -> None:
    with pytest.raises(PriceUnavailable):
        checkout.change_plan(user, shop.pack["id"])


def test_without_a_plan_there_is_nothing_to_change(fake: FakeStripe, shop: Shop, user: Any) -> None:
    with pytest.raises(SubscriptionConflict):
        checkout.change_plan(user, shop.pro["id"])


def test_cancel_at_period_end_and_resume(
    fake: FakeStripe, on_basic: dict[str, Any], user: Any
) -> None:
    canceled = checkout.set_cancel_at_period_end(user, True)
    assert canceled.cancel_at_period_end is True
    assert fake.store["subscriptions"][on_basic["id"]]["cancel_at_period_end"] is True
    assert canceled.status == "active"

    resumed = checkout.set_cancel_at_period_end(user, False)
    assert resumed.cancel_at_period_end is False


def test_is_upgrade_compares_the_monthly_price(fake: FakeStripe, shop: Shop) -> None:
    from quickscale.billing.models import Price

    basic = Price.objects.get(stripe_id=shop.basic["id"])
    pro = Price.objects.get(stripe_id=shop.pro["id"])
    yearly = Price(unit_amount=12000, interval="year", interval_count=1, credits=50)

    assert checkout.is_upgrade(basic, pro)
    assert not checkout.is_upgrade(pro, basic)
    assert checkout.is_upgrade(basic, yearly)  # 12000/year is about 986 a month, above 900


def test_the_emulator_refuses_the_string_billing_cycle_anchor_as_stripe_does(
    fake: FakeStripe, shop: Shop, on_basic: dict[str, Any]
) -> None:
    item = on_basic["items"]["data"][0]["id"]
    with pytest.raises(stripe.InvalidRequestError, match="billing_cycle_anchor"):
        get_client().v1.subscriptions.update(
            on_basic["id"],
            params={
                "items": [{"id": item, "price": shop.pro["id"]}],
                "billing_cycle_anchor": "now",  # type: ignore[typeddict-item]
            },
        )

    assert (
        fake.store["subscriptions"][on_basic["id"]]["items"]["data"][0]["price"]["id"]
        == (shop.basic["id"])
    )

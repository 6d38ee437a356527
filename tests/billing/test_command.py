"""``manage.py billing``: sync the catalog, reconcile with Stripe after missed webhooks, replay an
event; through the real command parser against the fake Stripe."""

from __future__ import annotations

import io
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client, override_settings

from quickscale.billing.models import (
    Customer,
    EventStatus,
    Payment,
    Price,
    Refund,
    Subscription,
    WebhookEvent,
)
from quickscale.credits import ledger
from quickscale.credits.models import CreditTransaction
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe

pytestmark = pytest.mark.django_db


def billing(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("billing", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# -- sync -------------------------------------------------------------------------------------


def test_sync_mirrors_prices_with_their_credits_and_shows_progress(fake: FakeStripe) -> None:
    product = fake.product("Starter", credits="25")
    pack = fake.price(product, 500)
    plan = fake.price(product, 900, credits="60", interval="month")
    fake.price(fake.product("T-shirt"), 2000)

    out, err = billing("sync")

    assert "Synced 3 price(s) of 2 product(s): 3 new, 0 changed, 0 no longer on sale." in out
    assert "Mirroring prices: 3/3 (100%)" in err
    assert Price.objects.get(stripe_id=pack["id"]).credits == D(25)  # from the product
    assert Price.objects.get(stripe_id=plan["id"]).credits == D(60)
    assert "has no 'credits' metadata: not offered" in out
    assert Price.objects.on_sale().count() == 2


def test_sync_takes_prices_off_sale_when_stripe_archived_them(fake: FakeStripe, shop: Shop) -> None:
    shop.pack["active"] = False

    out, _ = billing("sync", "-v", "0")

    assert "1 no longer on sale" in out
    assert not Price.objects.get(stripe_id=shop.pack["id"]).active


def test_sync_refuses_invalid_credits_metadata(fake: FakeStripe, caplog: Any) -> None:
    fake.price(fake.product("Odd"), 500, credits="lots")

    billing("sync")

    assert Price.objects.get().credits is None
    assert "invalid 'credits' metadata" in caplog.text


# -- reconcile --------------------------------------------------------------------------------


def test_reconcile_finds_nothing_when_webhooks_kept_up(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    deliver(client, fake.event("checkout.session.completed", session))

    out, _ = billing("reconcile")

    assert "Stripe and our records agree (last 30 days)." in out


def test_reconcile_lists_a_missed_payment_and_repair_grants_it_once(
    fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)

    listed, _ = billing("reconcile")
    assert f"payment      {session['id']}" in listed
    assert "paid at Stripe, not recorded or credited" in listed
    assert "Run with --repair to fix them." in listed
    assert ledger.balance(user).balance == 0

    repaired, _ = billing("reconcile", "--repair")
    assert "[repaired]" in repaired
    assert ledger.balance(user).balance == D(100)

    again, _ = billing("reconcile", "--repair")
    assert "agree" in again
    assert ledger.balance(user).balance == D(100)


def test_reconcile_repairs_a_missed_subscription_and_its_invoice(
    fake: FakeStripe, shop: Shop, user: Any
) -> None:
    customer = fake.customer(user)
    Customer.objects.create(user=user, stripe_id=customer["id"])  # made by our checkout
    subscription = fake.subscription(customer, shop.basic)
    fake.invoice(subscription)

    out, _ = billing("reconcile", "--repair")

    assert f"subscription {subscription['id']}" in out
    assert Subscription.objects.get().status == "active"
    assert Payment.objects.get().credits == D(50)
    assert ledger.balance(user).balance == D(50)


def test_reconcile_repairs_a_stale_subscription_state(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(client, fake.event("customer.subscription.created", subscription))
    subscription["cancel_at_period_end"] = True

    out, _ = billing("reconcile", "--repair")

    assert "cancel_at_period_end False here, True at Stripe" in out
    assert Subscription.objects.get().cancel_at_period_end is True


def test_reconcile_repairs_a_missed_refund(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    deliver(client, fake.event("checkout.session.completed", session))
    refund = fake.refund(session["_charge"])

    out, _ = billing("reconcile", "--repair")

    assert f"refund       {refund['id']}" in out
    assert Refund.objects.get().credits_clawed_back == D(100)
    assert ledger.balance(user).balance == 0


def test_reconcile_lists_a_new_price(fake: FakeStripe, shop: Shop) -> None:
    new = fake.price(fake.product("Big pack"), 5000, credits="1000")

    out, _ = billing("reconcile")

    assert f"price        {new['id']}" in out
    assert "on sale at Stripe, missing here" in out


def test_reconcile_processes_a_failed_event_again(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    fake.failing.add(f"customers/{session['customer']}")
    deliver(client, fake.event("checkout.session.completed", session))
    assert WebhookEvent.objects.get().status == EventStatus.FAILED
    fake.failing.clear()

    out, _ = billing("reconcile", "--repair")

    # The payment is repaired first (from Stripe's sessions), then the event finds it done.
    assert "checkout.session.completed failed" in out
    event = WebhookEvent.objects.get()
    assert (event.status, event.attempts) == (EventStatus.IGNORED, 2)
    assert ledger.balance(user).balance == D(100)
    assert CreditTransaction.objects.filter(kind="grant").count() == 1


def test_a_repair_that_fails_again_fails_the_command(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    fake.failing.add(f"customers/{session['customer']}")

    with pytest.raises(CommandError, match="1 of 1 repair"):
        billing("reconcile", "--repair")


# -- replay -----------------------------------------------------------------------------------


def test_replay_processes_a_failed_event(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    fake.failing.add(f"customers/{session['customer']}")
    event = fake.event("checkout.session.completed", session)
    deliver(client, event)
    fake.failing.clear()

    out, _ = billing("replay", event["id"])

    assert f"{event['id']} (checkout.session.completed): processed" in out
    assert WebhookEvent.objects.get().attempts == 2
    assert ledger.balance(user).balance == D(100)


def test_replaying_a_processed_event_changes_nothing(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    event = fake.event("checkout.session.completed", session)
    deliver(client, event)

    out, _ = billing("replay", event["id"])

    assert "ignored: payment" in out and "was recorded already" in out
    assert ledger.balance(user).balance == D(100)


def test_replay_fetches_an_event_never_received(fake: FakeStripe, shop: Shop, user: Any) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    event = fake.event("checkout.session.completed", session)

    out, _ = billing("replay", event["id"])

    assert "processed" in out
    assert WebhookEvent.objects.get().stripe_id == event["id"]
    assert ledger.balance(user).balance == D(100)


def test_replay_of_an_unknown_event_is_an_error(fake: FakeStripe) -> None:
    with pytest.raises(CommandError, match="No event 'evt_nope' here or at Stripe"):
        billing("replay", "evt_nope")


def test_a_replay_that_fails_again_is_an_error(
    client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    fake.failing.add(f"customers/{session['customer']}")
    event = fake.event("checkout.session.completed", session)
    deliver(client, event)

    with pytest.raises(CommandError, match="failed: APIError"):
        billing("replay", event["id"])


# -- without the settings ---------------------------------------------------------------------


@override_settings(QUICKSCALE_BILLING_STRIPE_SECRET_KEY="sk_test_1")
@pytest.mark.parametrize("args", [["sync"], ["reconcile"], ["replay", "evt_1"]])
def test_every_subcommand_names_the_missing_settings(args: list[str]) -> None:
    with pytest.raises(CommandError) as refused:
        billing(*args)

    assert str(refused.value) == (
        "Billing is not configured: QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY, "
        "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET are not set."
    )


def test_a_stripe_outage_is_a_one_line_error(fake: FakeStripe) -> None:
    fake.failing.add("prices")

    with pytest.raises(CommandError, match="Stripe could not complete the request"):
        billing("sync")

"""Billing in the admin: every page loads (read-only), and the two actions act through Stripe."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client, override_settings
from django.urls import reverse

from quickscale.billing.models import (
    Customer,
    EventStatus,
    Payment,
    Price,
    Product,
    Refund,
    RejectedDelivery,
    Subscription,
    WebhookEvent,
)
from quickscale.credits import ledger
from tests.billing.conftest import Shop, deliver
from tests.billing.fake_stripe import FakeStripe

MODELS = [Customer, Product, Price, Subscription, Payment, Refund, WebhookEvent, RejectedDelivery]


@pytest.fixture
def history(client: Client, fake: FakeStripe, shop: Shop, user: Any) -> None:
    """A row in every billing table: a bought and partly refunded pack, a subscription, a
    rejected delivery."""
    customer = fake.customer(user)
    session = fake.paid_session(customer, shop.pack, user=user)
    deliver(client, fake.event("checkout.session.completed", session))
    fake.refund(session["_charge"], 300)
    deliver(client, fake.event("charge.refunded", fake.store["charges"][session["_charge"]]))
    subscription = fake.subscription(customer, shop.basic)
    deliver(client, fake.event("invoice.paid", fake.invoice(subscription)))
    deliver(client, fake.event("invoice.paid", {"id": "in_x"}), secret="whsec_wrong")


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_every_changelist_and_change_page_loads(
    admin_client: Client, history: None, model: Any
) -> None:
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    change = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[model.objects.first().pk])
    )

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()  # read-only


@pytest.mark.parametrize("view", ["change", "refund"])
def test_a_payment_id_that_is_not_a_number_is_not_found_not_an_error(
    admin_client: Client, view: str
) -> None:
    response = admin_client.get(f"/admin/quickscale_billing/payment/abc/{view}/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:index"))


def test_the_payment_page_shows_its_refund_and_the_credits_taken_back(
    admin_client: Client, history: None
) -> None:
    payment = Payment.objects.get(kind="pack")

    body = admin_client.get(
        reverse("admin:quickscale_billing_payment_change", args=[payment.pk])
    ).content.decode()

    assert Refund.objects.get().stripe_id in body
    assert "30.00" in body  # credits taken back for 3.00 of 10.00


def test_payments_are_found_by_stripe_id_and_email(
    admin_client: Client, history: None, user: Any
) -> None:
    url = reverse("admin:quickscale_billing_payment_changelist")
    payment = Payment.objects.get(kind="pack")

    by_session = admin_client.get(url, {"q": payment.checkout_session_id})
    by_email = admin_client.get(url, {"q": user.email})

    assert by_session.context["cl"].result_count == 1
    assert by_email.context["cl"].result_count == 2


def test_process_again_replays_the_selected_events(
    admin_client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    session = fake.paid_session(fake.customer(user), shop.pack, user=user)
    fake.failing.add(f"customers/{session['customer']}")
    deliver(admin_client, fake.event("checkout.session.completed", session))
    fake.failing.clear()
    event = WebhookEvent.objects.get()

    response = admin_client.post(
        reverse("admin:quickscale_billing_webhookevent_changelist"),
        {"action": "process_again", ACTION_CHECKBOX_NAME: [event.pk]},
        follow=True,
    )

    assert "Processed 1 event." in response.content.decode()
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    assert ledger.balance(user).balance == 100


def test_sync_selected_subscriptions(
    admin_client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    stripe_subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(admin_client, fake.event("customer.subscription.created", stripe_subscription))
    stripe_subscription["status"] = "past_due"
    subscription = Subscription.objects.get()

    response = admin_client.post(
        reverse("admin:quickscale_billing_subscription_changelist"),
        {"action": "sync_selected", ACTION_CHECKBOX_NAME: [subscription.pk]},
        follow=True,
    )

    assert "Synced 1 subscription." in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == "past_due"


def test_actions_say_which_settings_are_missing(
    admin_client: Client, fake: FakeStripe, history: None
) -> None:
    with override_settings(QUICKSCALE_BILLING_STRIPE_SECRET_KEY=""):
        response = admin_client.post(
            reverse("admin:quickscale_billing_webhookevent_changelist"),
            {"action": "process_again", ACTION_CHECKBOX_NAME: [WebhookEvent.objects.first().pk]},
            follow=True,
        )

    assert "Billing is not configured: set QUICKSCALE_BILLING_STRIPE_SECRET_KEY." in (
        response.content.decode()
    )


def test_sync_with_stripe_out_of_reach_says_so_and_changes_nothing(
    admin_client: Client, fake: FakeStripe, shop: Shop, user: Any
) -> None:
    stripe_subscription = fake.subscription(fake.customer(user), shop.basic)
    deliver(admin_client, fake.event("customer.subscription.created", stripe_subscription))
    stripe_subscription["status"] = "past_due"
    subscription = Subscription.objects.get()
    fake.unreachable = True

    response = admin_client.post(
        reverse("admin:quickscale_billing_subscription_changelist"),
        {"action": "sync_selected", ACTION_CHECKBOX_NAME: [subscription.pk]},
        follow=True,
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Stripe could not be reached" in body
    assert "0 of 1 subscription(s) synced" in body
    subscription.refresh_from_db()
    assert subscription.status == "active"


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_search_with_a_nul_character_is_refused_with_a_message(
    admin_client: Client, history: None, model: Any
) -> None:
    opts = model._meta

    response = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "cus_\x00x"}
    )

    # Django's search form refuses it before any query (PostgreSQL cannot compare text with
    # a NUL); the list is shown unfiltered.
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert response.context["cl"].query == ""

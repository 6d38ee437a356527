"""The payment sandbox end to end: checkout through its own page, events signed and delivered
to the real webhook endpoint, plans renewed on demand. The stripe SDK is real; the sandbox
answers its HTTP requests. The database commits for real, as on a development server."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from quickscale.audit.models import AuditEvent
from quickscale.billing import sandbox as payment_sandbox
from quickscale.billing.models import (
    EventStatus,
    Payment,
    PaymentStatus,
    Price,
    RejectedDelivery,
    SandboxObject,
    Subscription,
    WebhookEvent,
)
from quickscale.billing.sandbox import delivery
from quickscale.billing.sandbox.actions import account
from quickscale.credits import ledger
from quickscale.credits.models import CreditGrant
from tests.billing.conftest import SandboxShop

CHECKOUT = reverse("quickscale_billing:checkout")
ACCOUNT = reverse("quickscale_billing:account")
PORTAL = reverse("quickscale_billing:portal")


@pytest.fixture
def buyer(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def checkout_page(client: Client, price_id: str) -> str:
    """Start a checkout as the pricing page does; the URL of the sandbox's checkout page."""
    response = client.post(CHECKOUT, {"price": price_id})
    assert response.status_code == 303
    return str(response.url)


def choose(client: Client, page: str, action: str) -> Any:
    return client.post(page, {"action": action})


def session_id(page: str) -> str:
    return page.rstrip("/").rsplit("/", 1)[1]


def stored_events(event_type: str | None = None) -> list[WebhookEvent]:
    events = WebhookEvent.objects.order_by("pk")
    return list(events.filter(type=event_type) if event_type else events)


# -- packs ---------------------------------------------------------------------------------


def test_the_catalog_made_through_the_api_is_mirrored_by_its_events(sandbox: SandboxShop) -> None:
    assert Price.objects.on_sale().count() == 3
    assert {event.type for event in stored_events()} == {"product.created", "price.created"}


def test_checkout_opens_the_sandbox_page_labelled_as_a_test_payment(
    buyer: Client, sandbox: SandboxShop
) -> None:
    page = checkout_page(buyer, sandbox.pack)

    response = buyer.get(page)

    assert page == reverse("quickscale_billing:sandbox_checkout", args=[session_id(page)])
    body = response.content.decode()
    assert response.status_code == 200
    assert "Test payment: no money moves" in body
    assert "Credit pack" in body and "10.00 USD" in body and "100 credits, never expiring" in body
    assert 'value="pay"' in body and 'value="decline"' in body and 'value="cancel"' in body


def test_paying_for_a_pack_grants_its_credits_once_through_a_verified_stored_event(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)

    response = choose(buyer, page, "pay")

    assert response.status_code == 303
    assert response.url.endswith(f"?session_id={session_id(page)}")
    [event] = stored_events("checkout.session.completed")
    assert event.status == EventStatus.PROCESSED
    assert event.object_id == session_id(page)
    assert not RejectedDelivery.objects.exists()
    assert ledger.balance(user).balance == D(100)
    payment = Payment.objects.get(checkout_session_id=session_id(page))
    assert payment.status == PaymentStatus.PAID and payment.amount == 1000
    assert "100 credits were added" in buyer.get(response.url).content.decode()


def test_what_the_webhook_does_is_attributed_to_the_sandbox_not_to_the_buyer(
    buyer: Client, sandbox: SandboxShop
) -> None:
    choose(buyer, checkout_page(buyer, sandbox.pack), "pay")

    paid = AuditEvent.objects.get(action="billing.payment.succeeded")

    assert (paid.actor_type, paid.actor_repr) == ("system", "payment sandbox")


def test_reloading_the_success_page_or_paying_again_grants_nothing_more(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)
    success = choose(buyer, page, "pay").url
    stored = len(stored_events())

    buyer.get(success)
    buyer.get(success)
    again = choose(buyer, page, "pay")
    declined_after = choose(buyer, page, "decline")

    assert again.status_code == declined_after.status_code == 303
    assert len(stored_events()) == stored
    assert ledger.balance(user).balance == D(100)
    assert "choosing again changes nothing" in buyer.get(page).content.decode()


def test_a_replayed_delivery_changes_nothing(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    choose(buyer, checkout_page(buyer, sandbox.pack), "pay")
    [stored] = stored_events("checkout.session.completed")
    event = account().get("events", stored.stripe_id)
    assert event is not None

    response = delivery.post(event)

    assert response.status_code == 200
    assert len(stored_events("checkout.session.completed")) == 1
    assert ledger.balance(user).balance == D(100)


def test_a_tampered_body_is_refused_by_the_endpoint(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)
    choose(buyer, page, "pay")
    [stored] = stored_events("checkout.session.completed")
    event = account().get("events", stored.stripe_id)
    assert event is not None
    forged = json.loads(json.dumps(event))
    forged["id"] = "evt_forged"
    forged["data"]["object"]["metadata"]["quickscale_credits"] = "100000"

    response = delivery.post(event, body=json.dumps(forged))

    assert response.status_code == 400
    assert RejectedDelivery.objects.get().reason == "bad_signature"
    assert not WebhookEvent.objects.filter(stripe_id="evt_forged").exists()
    assert ledger.balance(user).balance == D(100)


def test_a_delivery_signed_with_another_secret_is_refused(sandbox: SandboxShop) -> None:
    event = account().event("product.updated", {"id": "prod_x", "object": "product"})
    body = json.dumps(event)

    response = delivery.post(
        event, signature=stripe.WebhookSignature.generate_signature_header(body, "whsec_other")
    )

    assert response.status_code == 400
    assert RejectedDelivery.objects.get().reason == "bad_signature"
    assert not WebhookEvent.objects.filter(stripe_id=event["id"]).exists()


def test_declining_a_pack_records_a_failed_payment_and_grants_nothing(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)

    response = choose(buyer, page, "decline")

    payment = Payment.objects.get(checkout_session_id=session_id(page))
    assert payment.status == PaymentStatus.FAILED
    assert stored_events("checkout.session.async_payment_failed")
    assert ledger.balance(user).balance == 0
    assert "The payment failed" in buyer.get(response.url).content.decode()


def test_cancel_goes_back_to_the_cancel_url_and_buys_nothing(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)

    response = choose(buyer, page, "cancel")

    assert response.status_code == 303
    assert response.url.endswith(reverse("quickscale_billing:checkout_canceled"))
    assert not Payment.objects.exists()
    assert "Test payment" in buyer.get(page).content.decode()  # still open


def test_another_users_checkout_session_is_404(
    buyer: Client, sandbox: SandboxShop, make_user: Any
) -> None:
    page = checkout_page(buyer, sandbox.pack)
    stranger = Client()
    stranger.force_login(make_user())

    seen = stranger.get(page)
    paid = choose(stranger, page, "pay")

    assert seen.status_code == paid.status_code == 404
    assert not Payment.objects.exists()
    assert account().get("checkout/sessions", session_id(page))["status"] == "open"


def test_the_checkout_page_needs_the_csrf_token(
    user: Any, sandbox: SandboxShop, buyer: Client
) -> None:
    page = checkout_page(buyer, sandbox.pack)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    assert choose(strict, page, "pay").status_code == 403
    assert not Payment.objects.exists()


def test_its_state_lives_in_the_database(buyer: Client, sandbox: SandboxShop) -> None:
    page = checkout_page(buyer, sandbox.pack)

    row = SandboxObject.objects.get(stripe_id=session_id(page))

    assert row.collection == "checkout/sessions" and row.data["status"] == "open"


# -- plans ---------------------------------------------------------------------------------


@pytest.fixture
def subscribed(buyer: Client, sandbox: SandboxShop) -> Subscription:
    choose(buyer, checkout_page(buyer, sandbox.basic), "pay")
    return Subscription.objects.get()


def subscription_grants(user: Any) -> list[CreditGrant]:
    return list(
        CreditGrant.objects.filter(account__owner=user, source="subscription").order_by("pk")
    )


def test_a_plan_checkout_starts_the_subscription_and_grants_the_periods_credits(
    buyer: Client, subscribed: Subscription, user: Any
) -> None:
    assert subscribed.status == "active" and subscribed.price.credits == D(50)
    [grant] = subscription_grants(user)
    assert grant.amount == D(50)
    assert grant.expires_at == subscribed.current_period_end
    assert {"customer.subscription.created", "invoice.paid", "checkout.session.completed"} <= {
        event.type for event in stored_events()
    }


def test_advancing_a_period_grants_the_next_periods_credits_once(
    subscribed: Subscription, user: Any
) -> None:
    first_end = subscribed.current_period_end

    advanced = payment_sandbox.advance_period(subscribed)
    for event in stored_events("invoice.paid"):  # a repeated delivery of every invoice
        delivery.post(account().get("events", event.stripe_id) or {})

    subscribed.refresh_from_db()
    assert not advanced.ended
    assert subscribed.current_period_start == first_end == advanced.period_start
    assert subscribed.current_period_end == advanced.period_end > first_end
    grants = subscription_grants(user)
    assert [grant.amount for grant in grants] == [D(50), D(50)]
    assert grants[1].expires_at == subscribed.current_period_end
    assert ledger.balance(user).balance == D(100)


def test_a_plan_cancelled_at_period_end_ends_instead_of_renewing(
    buyer: Client, subscribed: Subscription, user: Any
) -> None:
    buyer.post(reverse("quickscale_billing:cancel_plan"))
    subscribed.refresh_from_db()
    assert subscribed.cancel_at_period_end  # Stripe's customer.subscription.updated agrees

    advanced = payment_sandbox.advance_period(subscribed)

    subscribed.refresh_from_db()
    assert advanced.ended
    assert subscribed.status == "canceled"
    assert len(subscription_grants(user)) == 1
    assert stored_events("customer.subscription.deleted")


def test_an_upgrade_is_invoiced_at_once_and_grants_the_new_plans_credits(
    buyer: Client, sandbox: SandboxShop, subscribed: Subscription, user: Any
) -> None:
    buyer.post(reverse("quickscale_billing:change_plan"), {"price": sandbox.pro})

    subscribed.refresh_from_db()
    assert subscribed.price.stripe_id == sandbox.pro
    assert [grant.amount for grant in subscription_grants(user)] == [D(50), D(200)]


def test_declining_a_plan_fails_its_first_invoice_and_starts_nothing(
    buyer: Client, sandbox: SandboxShop, user: Any
) -> None:
    response = choose(buyer, checkout_page(buyer, sandbox.basic), "decline")

    subscription = Subscription.objects.get()
    assert subscription.status == "incomplete" and not subscription.is_live
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert ledger.balance(user).balance == 0
    assert "The payment failed" in buyer.get(response.url).content.decode()


def test_the_portal_says_the_sandbox_has_none_and_links_to_the_plan_actions(
    buyer: Client, subscribed: Subscription
) -> None:
    response = buyer.post(PORTAL)
    page = buyer.get(response.url)

    body = page.content.decode()
    assert page.status_code == 200
    assert "No customer portal in the sandbox" in body
    assert reverse("quickscale_billing:pricing") in body and ACCOUNT in body


def test_reconcile_finds_nothing_to_repair_after_sandbox_purchases(
    buyer: Client, sandbox: SandboxShop, subscribed: Subscription
) -> None:
    from quickscale.billing.reconcile import reconcile

    choose(buyer, checkout_page(buyer, sandbox.pack), "pay")

    assert reconcile() == []

"""The payment sandbox never acts in production: what it does with DEBUG off, with
QUICKSCALE_ENV=production or beside Stripe keys; who may use its pages; what the buyer sees
while the webhook has not settled the order, or when the endpoint refuses an event."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from quickscale.billing import sandbox as payment_sandbox
from quickscale.billing.client import (
    REQUIRED_SETTINGS,
    is_enabled,
    missing_settings,
    require_enabled,
    sandbox_active,
    webhook_secret,
)
from quickscale.billing.exceptions import BillingDisabled, SandboxError
from quickscale.billing.models import Payment, Subscription
from tests.billing.conftest import (
    DUMMY_TASKS,
    SANDBOX_SETTINGS,
    STRIPE_SETTINGS,
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    SandboxShop,
)

CHECKOUT = reverse("quickscale_billing:checkout")


def some_page() -> str:
    return reverse("quickscale_billing:sandbox_checkout", args=["cs_test_123"])


# -- refused at run time ----------------------------------------------------------------------


@pytest.mark.django_db
def test_with_debug_off_the_sandbox_refuses_and_billing_is_not_configured(
    client: Client, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client.force_login(user)
    with (
        override_settings(QUICKSCALE_BILLING_SANDBOX=True, DEBUG=False),
        caplog.at_level(logging.WARNING, logger="quickscale.billing.sandbox"),
    ):
        assert not sandbox_active() and not is_enabled()
        assert missing_settings() == list(REQUIRED_SETTINGS)
        with pytest.raises(BillingDisabled, match="SANDBOX is on, but refused because DEBUG"):
            require_enabled()
        checkout = client.post(CHECKOUT, {"price": "price_1"})
        page = client.get(some_page())
        webhook = client.post(WEBHOOK_URL, data="{}", content_type="application/json")

    assert checkout.status_code == 503
    assert "Billing is not configured" in checkout.content.decode()
    assert page.status_code == 404
    assert webhook.status_code == 503
    assert "payment sandbox is refused because DEBUG is off" in caplog.text


@pytest.mark.django_db
def test_in_production_the_sandbox_refuses_even_with_debug_on(client: Client, user: Any) -> None:
    client.force_login(user)
    with override_settings(
        QUICKSCALE_BILLING_SANDBOX=True, DEBUG=True, QUICKSCALE_ENV="production"
    ):
        assert not sandbox_active() and not is_enabled()
        assert client.post(CHECKOUT, {"price": "price_1"}).status_code == 503


@pytest.mark.django_db
def test_the_production_environment_variable_refuses_it_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUICKSCALE_ENV", "production")
    with override_settings(QUICKSCALE_BILLING_SANDBOX=True, DEBUG=True):
        assert not sandbox_active() and not is_enabled()


def test_stripe_keys_win_over_the_sandbox() -> None:
    with override_settings(**STRIPE_SETTINGS, QUICKSCALE_BILLING_SANDBOX=True, DEBUG=True):
        assert not sandbox_active()
        assert is_enabled()
        assert webhook_secret() == WEBHOOK_SECRET


def test_in_development_the_sandbox_enables_billing_with_its_own_secret() -> None:
    with override_settings(QUICKSCALE_BILLING_SANDBOX=True, DEBUG=True):
        assert sandbox_active() and is_enabled() and missing_settings() == []
        secret = webhook_secret()
    with override_settings(QUICKSCALE_BILLING_SANDBOX=True, DEBUG=True, SECRET_KEY="other"):
        assert webhook_secret() != secret
    assert secret.startswith("whsec_")


@pytest.mark.django_db
def test_the_sandbox_pages_are_404_while_it_is_off(client: Client, user: Any) -> None:
    client.force_login(user)

    assert client.get(some_page()).status_code == 404
    assert (
        client.get(reverse("quickscale_billing:sandbox_portal", args=["bps_1"])).status_code == 404
    )


# -- advancing a period: staff only ----------------------------------------------------------


@pytest.fixture
def subscription(client: Client, user: Any, sandbox: SandboxShop) -> Subscription:
    client.force_login(user)
    page = client.post(CHECKOUT, {"price": sandbox.basic}).url
    client.post(page, {"action": "pay"})
    client.logout()
    return Subscription.objects.get()


def advance_url(subscription: Subscription) -> str:
    return reverse("quickscale_billing:sandbox_advance", args=[subscription.stripe_id])


def test_advancing_is_a_login_redirect_for_anonymous_people(
    client: Client, subscription: Subscription
) -> None:
    response = client.post(advance_url(subscription))

    assert response.status_code == 302
    assert "/login/" in response.url and "next=" in response.url


def test_advancing_is_forbidden_to_people_who_are_not_staff(
    client: Client, subscription: Subscription, user: Any
) -> None:
    client.force_login(user)

    response = client.post(advance_url(subscription))

    assert response.status_code == 403
    assert Payment.objects.count() == 1


def test_staff_advance_a_period_and_return_to_a_safe_next_page(
    client: Client, subscription: Subscription, make_user: Any
) -> None:
    client.force_login(make_user(is_staff=True))
    before = subscription.current_period_end

    back = client.post(advance_url(subscription), {"next": "/admin/"})
    elsewhere = client.post(advance_url(subscription), {"next": "https://evil.example/"})

    subscription.refresh_from_db()
    assert back.status_code == 303 and back.url == "/admin/"
    assert elsewhere.url == reverse("quickscale_billing:account")
    assert subscription.current_period_start > before
    assert Payment.objects.count() == 3


def test_advance_period_refuses_a_subscription_that_has_ended(
    client: Client, subscription: Subscription, user: Any
) -> None:
    client.force_login(user)
    with override_settings(**SANDBOX_SETTINGS):
        client.post(reverse("quickscale_billing:cancel_plan"))
        payment_sandbox.advance_period(subscription)

        with pytest.raises(SandboxError, match="canceled: it does not renew"):
            payment_sandbox.advance_period(subscription)


# -- what the buyer sees -----------------------------------------------------------------------


def test_the_success_page_reloads_itself_until_the_webhook_settles_the_order(
    client: Client, user: Any, sandbox: SandboxShop
) -> None:
    client.force_login(user)
    page = client.post(CHECKOUT, {"price": sandbox.pack}).url
    with override_settings(TASKS=DUMMY_TASKS):  # a worker will process the event, later
        success = client.post(page, {"action": "pay"}).url
        waiting = client.get(success).content.decode()

    assert "Payment processing" in waiting
    assert re.search(
        r'<meta http-equiv="refresh" content="2;url=\?session_id=cs_\w+&amp;waited=1">', waiting
    )


def test_the_success_page_stops_reloading_after_a_minute_and_says_the_confirmation_is_late(
    client: Client, user: Any, sandbox: SandboxShop
) -> None:
    client.force_login(user)
    page = client.post(CHECKOUT, {"price": sandbox.pack}).url
    with override_settings(TASKS=DUMMY_TASKS):  # no worker ever processes the event
        success = client.post(page, {"action": "pay"}).url
        late = client.get(success + "&waited=30").content.decode()
        nearly = client.get(success + "&waited=29").content.decode()

    assert "http-equiv" not in late
    assert "The confirmation is taking longer than usual" in late
    assert "waited=30" in nearly


def test_the_success_page_stops_reloading_once_the_credits_are_added(
    client: Client, user: Any, sandbox: SandboxShop
) -> None:
    client.force_login(user)
    page = client.post(CHECKOUT, {"price": sandbox.pack}).url

    body = client.get(client.post(page, {"action": "pay"}).url).content.decode()

    assert "Payment received" in body
    assert "http-equiv" not in body


@override_settings(ROOT_URLCONF="tests.billing.refusing_urls")
def test_an_event_the_endpoint_refuses_is_shown_to_the_buyer(
    client: Client, user: Any, sandbox: SandboxShop
) -> None:
    client.force_login(user)
    page = client.post(reverse("quickscale_billing:checkout"), {"price": sandbox.pack}).url

    response = client.post(page, {"action": "pay"})

    body = response.content.decode()
    assert response.status_code == 502
    assert "refused" in body and "status 503" in body and "billing replay" in body
    assert not Payment.objects.exists()

"""Billing test fixtures: billing configured against the fake Stripe, and signed deliveries."""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stripe
from django.test import Client, TestCase, override_settings
from django.urls import reverse

from tests.billing.fake_stripe import FakeStripe

WEBHOOK_SECRET = "whsec_test_quickscale"
STRIPE_SETTINGS = {
    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY": "sk_test_quickscale",
    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY": "pk_test_quickscale",
    "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
}
WEBHOOK_URL = reverse("quickscale_billing:webhook")
#: A task backend that only keeps what is enqueued: processing deferred, never run.
DUMMY_TASKS = {
    "default": {
        "BACKEND": (
            "django.tasks.backends.dummy.DummyBackend"  # Django 6
            if importlib.util.find_spec("django.tasks")
            else "django_tasks.backends.dummy.DummyBackend"
        )
    }
}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    """The fake Stripe, with billing configured to call it."""
    stripe_fake = FakeStripe()
    with override_settings(
        **STRIPE_SETTINGS,
        QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS={
            "http_client": stripe_fake,
            "max_network_retries": 0,
        },
    ):
        yield stripe_fake


def sign(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send, made by the SDK's own helper."""
    return stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=timestamp if timestamp is not None else int(time.time())
    )


def deliver(client: Client, event: dict[str, Any] | str, **signing: Any) -> Any:
    """POST an event to the webhook as Stripe does: the JSON body, signed.

    The view enqueues processing when its transaction commits; a test's transaction never
    does, so the callbacks run when the request is done, as they would in production.
    """
    body = event if isinstance(event, str) else json.dumps(event)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            headers={"Stripe-Signature": sign(body, **signing)},
        )


@dataclass
class Shop:
    """A catalog at the fake Stripe, mirrored here: a pack and two monthly plans."""

    pack: dict[str, Any]
    basic: dict[str, Any]
    pro: dict[str, Any]


@pytest.fixture
def shop(fake: FakeStripe, db: None) -> Shop:
    from quickscale.billing import catalog

    credits = fake.product("Credit pack")
    plans = fake.product("Plans")
    shop = Shop(
        pack=fake.price(credits, 1000, credits="100"),
        basic=fake.price(plans, 900, credits="50", interval="month"),
        pro=fake.price(plans, 2900, credits="200", interval="month"),
    )
    catalog.sync_catalog()
    return shop


#: The payment sandbox on. Django's test runner turns DEBUG off, and the sandbox refuses to act
#: without it, so tests that use the sandbox turn it back on.
SANDBOX_SETTINGS = {"DEBUG": True, "QUICKSCALE_BILLING_SANDBOX": True}


@dataclass
class SandboxShop:
    """A catalog made in the payment sandbox through the Stripe API (its events mirrored it
    here): the ids of a pack and two monthly plans."""

    pack: str
    basic: str
    pro: str


@pytest.fixture
def sandbox(transactional_db: None) -> Iterator[SandboxShop]:
    """The payment sandbox, active, with a catalog. The database is committed for real (no
    test transaction), so the webhook endpoint processes each event as soon as it is stored,
    as on a development server."""
    from quickscale.billing.client import get_client

    with override_settings(**SANDBOX_SETTINGS):
        api = get_client().v1
        packs = api.products.create(params={"name": "Credit pack"})
        plans = api.products.create(params={"name": "Plans"})
        pack = api.prices.create(
            params={
                "product": packs.id,
                "unit_amount": 1000,
                "currency": "usd",
                "metadata": {"credits": "100"},
            }
        )
        basic, pro = (
            api.prices.create(
                params={
                    "product": plans.id,
                    "unit_amount": amount,
                    "currency": "usd",
                    "recurring": {"interval": "month"},
                    "metadata": {"credits": credits},
                }
            )
            for amount, credits in ((900, "50"), (2900, "200"))
        )
        yield SandboxShop(pack=pack.id, basic=basic.id, pro=pro.id)

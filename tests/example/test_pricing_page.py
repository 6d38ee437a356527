"""The example project's billing with neither Stripe keys nor the payment sandbox: the pricing
page shows the catalog as unavailable, and every page that would talk to Stripe says so plainly.

They use :func:`~tests.example.conftest.fetch`: no server is needed to look at a configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.example.conftest import example_env, fetch, run_manage

BILLING_OFF = {"BILLING_SANDBOX": "false"}


def test_the_pricing_page_lists_the_catalog_as_unavailable(tmp_path: Path) -> None:
    (page,) = fetch(tmp_path, "GET /pricing/", **BILLING_OFF)

    body = str(page["body"])
    assert page["status"] == 200
    assert "billing is not configured" in body
    assert body.count("Unavailable") == 4
    assert "Pro plan" in body and "29.00 USD" in body


def test_checkout_and_the_webhook_say_billing_is_not_configured(tmp_path: Path) -> None:
    checkout, webhook = fetch(
        tmp_path, "POST /stripe/checkout/", "POST /stripe/webhook/", **BILLING_OFF
    )

    assert checkout["status"] == 503
    assert "Billing is not configured" in str(checkout["body"])
    assert webhook["status"] == 503
    assert json.loads(str(webhook["body"]))["error"]["code"] == "billing_not_configured"


def test_without_stripe_keys_development_uses_the_payment_sandbox(tmp_path: Path) -> None:
    (page,) = fetch(tmp_path, "GET /pricing/")

    body = str(page["body"])
    assert "Payment sandbox" in body
    assert "Unavailable" not in body


def test_the_sandbox_is_refused_with_debug_off(tmp_path: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, BILLING_SANDBOX="true", DEBUG="false"))

    assert result.returncode != 0
    assert "quickscale_billing.E008" in result.stderr


def test_stripe_keys_from_the_environment_pass_the_checks(tmp_path: Path) -> None:
    env = example_env(
        tmp_path,
        STRIPE_SECRET_KEY="sk_test_123",
        STRIPE_PUBLISHABLE_KEY="pk_test_123",
        STRIPE_WEBHOOK_SECRET="whsec_123",
    )

    result = run_manage("check", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_only_some_stripe_keys_is_a_warning(tmp_path: Path) -> None:
    result = run_manage("check", env=example_env(tmp_path, STRIPE_SECRET_KEY="sk_test_123"))

    assert "quickscale_billing.W001" in result.stderr + result.stdout

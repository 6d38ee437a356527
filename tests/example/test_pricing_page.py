"""The example project's billing pages without Stripe keys: the demo catalog on the pricing page
shown as unavailable, and a clear "not configured" answer everywhere else."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.example.conftest import DemoServer, example_env, run_manage


def test_demo_adds_a_catalog_while_billing_is_off(demo_server: DemoServer) -> None:
    assert "Added a demo catalog: billing is off" in demo_server.log.read_text()


def test_the_pricing_page_lists_the_demo_catalog_as_unavailable(demo_server: DemoServer) -> None:
    with urllib.request.urlopen(demo_server.url + "stripe/pricing/", timeout=10) as response:
        status, body = response.status, response.read().decode()

    assert status == 200
    assert "billing is not configured" in body
    assert body.count("Unavailable") == 4
    assert "Pro plan" in body and "29.00 USD" in body


def test_the_webhook_answers_503_without_stripe_keys(demo_server: DemoServer) -> None:
    request = urllib.request.Request(
        demo_server.url + "stripe/webhook/",
        data=b"{}",
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=0"},
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)

    assert refused.value.code == 503
    assert json.loads(refused.value.read())["error"]["code"] == "billing_not_configured"
    refused.value.close()


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


@pytest.mark.e2e
def test_a_visitor_sees_the_plans_unavailable_and_checkout_says_why(
    demo_server: DemoServer, page: Page, tmp_path: Path
) -> None:
    page.goto(demo_server.url)
    page.get_by_role("link", name="Sign up", exact=True).click()
    page.locator("input[name=email]").fill("pricing@example.com")
    page.locator("input[name=password1]").fill("correct-horse-battery")
    page.locator("input[name=password2]").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign Up").click()

    page.get_by_role("link", name="Pricing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pricing")
    expect(page.get_by_role("status").first).to_contain_text("billing is not configured")
    plans = page.get_by_role("region", name="Plans")
    expect(plans.get_by_role("heading", level=3)).to_have_text(["Basic plan", "Pro plan"])
    expect(page.get_by_role("button", name="Unavailable")).to_have_count(4)
    for button in page.get_by_role("button", name="Unavailable").all():
        expect(button).to_be_disabled()
    page.screenshot(path=tmp_path / "pricing.png", full_page=True)

    response = page.goto(demo_server.url + "stripe/checkout/success/?session_id=cs_test_1")
    assert response is not None and response.status == 503
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing is not configured")

    page.get_by_role("link", name="Billing", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My billing")
    expect(page.get_by_text("You have no plan.")).to_be_visible()
    expect(page.get_by_text("No payments yet.")).to_be_visible()
    assert re.search(r"/stripe/account/$", page.url)

"""The example project's billing with neither Stripe keys nor the payment sandbox: the pricing
page shows the catalog as unavailable, and every page that would talk to Stripe says so plainly.

These run the project's own pages in one ``manage.py shell`` process each, through Django's test
client: no server is needed to look at a configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.example.conftest import example_env, run_manage

BILLING_OFF = {"BILLING_SANDBOX": "false"}


def fetch(tmp_path: Path, *requests: str, **variables: str) -> list[dict[str, object]]:
    """Migrate a fresh database, add the demo catalog, and answer ``requests`` (``"GET /path"``
    or ``"POST /path"``) as a signed-in customer; each answer's status and body."""
    env = example_env(tmp_path, **variables)
    migrated = run_manage("migrate", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    script = (
        "import json; from django.test import Client; from public.demo_catalog import "
        "seed_demo_catalog; from users.models import CustomUser; seed_demo_catalog(); "
        "c = Client(SERVER_NAME='localhost'); "
        "c.force_login(CustomUser.objects.create_user('b@example.com', 'x')); "
        "out = []\n"
        f"for line in {list(requests)!r}:\n"
        "    method, path = line.split(' ')\n"
        "    r = c.post(path, {'price': 'demo_price_pro_plan'}) if method == 'POST' "
        "else c.get(path)\n"
        "    out.append({'status': r.status_code, 'body': r.content.decode()})\n"
        "print(json.dumps(out))"
    )
    result = run_manage("shell", "-v", "0", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, object]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


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

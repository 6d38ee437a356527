"""Every app imports, passes its checks, migrates and renders every page alone (with only the
apps it depends on) and all together; a missing dependency is a named system check error, never
an ImportError or a 500 on a page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def exercise(project: str, database_url: str) -> dict[str, Any]:
    """Run ``tests/projects/exercise.py`` for a settings project in a fresh process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"tests.projects.{project}",
        "DATABASE_URL": database_url,
        "PYTHONWARNINGS": "error",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.projects.exercise"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


ALL_APPS = [
    "quickscale_core",
    "quickscale_credits",
    "quickscale_services",
    "quickscale_apikeys",
    "quickscale_billing",
    "quickscale_audit",
    "quickscale_api",
]
#: Each app alone with the apps it needs, the quickstart's combination, and all of them. A
#: project whose pages extend quickscale.core's layout installs core (or, in
#: ``apikeys_own_layout``, supplies "quickscale/base.html" itself).
COMPLETE_PROJECTS = {
    "core_only": ["quickscale_core"],
    "credits_only": ["quickscale_credits"],
    "services_only": ["quickscale_credits", "quickscale_services"],
    "apikeys_only": ["quickscale_core", "quickscale_apikeys"],
    "apikeys_own_layout": ["quickscale_apikeys"],
    "billing_only": ["quickscale_core", "quickscale_credits", "quickscale_billing"],
    "audit_only": ["quickscale_core", "quickscale_audit"],
    "api_only": [
        "quickscale_core",
        "quickscale_credits",
        "quickscale_services",
        "quickscale_apikeys",
        "quickscale_api",
    ],
    "credits_apikeys": ["quickscale_core", "quickscale_credits", "quickscale_apikeys"],
    "billing_sandbox": ["quickscale_core", "quickscale_credits", "quickscale_billing"],
    "all_apps": ALL_APPS,
    "all_apps_without_admin": ALL_APPS,
}

NOT_CONFIGURED = (503, "Billing is not configured", "quickscale/billing/not_configured.html")

#: What each route of the apps answers in the partial projects (tests/projects/pages.py makes
#: the requests): status, a text of the page's own, and for an HTML page its template. Billing
#: is not configured there, so its Stripe pages say so, and the payment sandbox is off.
PAGES: dict[str, tuple[int, str, str | None]] = {
    "quickscale_apikeys:list": (
        200,
        "Keys let your own code call the API",
        "quickscale/apikeys/key_list.html",
    ),
    "quickscale_apikeys:create": (200, "Your new API key", "quickscale/apikeys/key_created.html"),
    "quickscale_apikeys:create#1": (405, "", None),
    "quickscale_apikeys:roll": (200, "Roll the key", "quickscale/apikeys/key_confirm_roll.html"),
    "quickscale_apikeys:revoke": (
        200,
        "Revoke the key",
        "quickscale/apikeys/key_confirm_revoke.html",
    ),
    "quickscale_audit:events": (
        200,
        "Who did what, when and from where",
        "quickscale/audit/events.html",
    ),
    "quickscale_audit:export": (200, "occurred_at,action,outcome", None),
    "quickscale_billing:pricing": (
        200,
        "Buy credits once with a pack",
        "quickscale/billing/pricing.html",
    ),
    "quickscale_billing:pricing#1": (
        200,
        "Buy credits once with a pack",
        "quickscale/billing/pricing.html",
    ),
    "quickscale_billing:checkout": NOT_CONFIGURED,
    "quickscale_billing:checkout_success": NOT_CONFIGURED,
    "quickscale_billing:checkout_canceled": (
        200,
        "Nothing was charged",
        "quickscale/billing/checkout_canceled.html",
    ),
    "quickscale_billing:account": (200, "My billing", "quickscale/billing/account.html"),
    "quickscale_billing:portal": NOT_CONFIGURED,
    "quickscale_billing:change_plan": NOT_CONFIGURED,
    "quickscale_billing:cancel_plan": NOT_CONFIGURED,
    "quickscale_billing:resume_plan": NOT_CONFIGURED,
    "quickscale_billing:webhook": (405, "", None),
    "quickscale_billing:sandbox_checkout": (404, "", None),
    "quickscale_billing:sandbox_portal": (404, "", None),
    "quickscale_billing:sandbox_advance": (404, "", None),
    "quickscale_api:balance": (200, '"balance": "99.00"', None),
    "quickscale_api:transactions": (200, '"reason": "service word-count"', None),
    "quickscale_api:services": (200, '"slug": "word-count"', None),
    "quickscale_api:create-run": (201, '"output": {"words": 4}', None),
    "quickscale_api:runs": (200, '"service": "word-count"', None),
    "quickscale_api:run": (200, '"output": {"words": 3}', None),
    "quickscale_api:usage": (200, '"service": "word-count"', None),
    "quickscale_api:openapi": (200, '"openapi": "3.1', None),
    "quickscale_api:docs": (200, "Authentication", "quickscale/api/docs.html"),
    "quickscale_api:docs#1": (200, "Authentication", "quickscale/api/docs.html"),
    "quickscale_api:not_found": (404, '"code": "not_found"', None),
}

#: Billing with the payment sandbox active (tests/projects/billing_sandbox.py): a pack bought and
#: a plan subscribed to through the sandbox's pages, the portal and the staff's clock.
SANDBOX_PAGES: dict[str, tuple[int, str, str | None]] = {
    "quickscale_billing:pricing": (
        200,
        "100 credits, never expiring",
        "quickscale/billing/pricing.html",
    ),
    "quickscale_billing:checkout+pack": (303, "", None),
    "quickscale_billing:sandbox_checkout+pack": (
        200,
        "Test payment: no money moves",
        "quickscale/billing/sandbox_checkout.html",
    ),
    "sandbox pay+pack": (303, "", None),
    "quickscale_billing:checkout_success+pack": (
        200,
        "100 credits were added to your balance",
        "quickscale/billing/checkout_success.html",
    ),
    "quickscale_billing:checkout+plan": (303, "", None),
    "quickscale_billing:sandbox_checkout+plan": (
        200,
        "Test payment: no money moves",
        "quickscale/billing/sandbox_checkout.html",
    ),
    "sandbox pay+plan": (303, "", None),
    "quickscale_billing:checkout_success+plan": (
        200,
        "Your plan is active",
        "quickscale/billing/checkout_success.html",
    ),
    "quickscale_billing:account": (200, "Renews on", "quickscale/billing/account.html"),
    "quickscale_billing:portal": (303, "", None),
    "quickscale_billing:sandbox_portal": (
        200,
        "No customer portal in the sandbox",
        "quickscale/billing/sandbox_portal.html",
    ),
    "quickscale_billing:sandbox_advance": (303, "", None),
}

#: The admin's changelists each app must have.
ADMIN_MODELS = {
    "quickscale_credits": ["creditaccount", "creditgrant", "credithold", "credittransaction"],
    "quickscale_services": ["service", "servicerun"],
    "quickscale_apikeys": ["apikey"],
    "quickscale_billing": [
        "customer",
        "product",
        "price",
        "subscription",
        "payment",
        "refund",
        "webhookevent",
        "rejecteddelivery",
    ],
    "quickscale_audit": ["auditevent"],
}


@pytest.mark.parametrize(("project", "labels"), COMPLETE_PROJECTS.items())
def test_app_combination_imports_checks_migrates_and_renders_every_page(
    project: str, labels: list[str], scratch_database_url: str
) -> None:
    report = exercise(project, scratch_database_url)

    installed = [label for label in report["installed"] if label.startswith("quickscale_")]
    assert installed == labels
    for label in labels:
        package = "quickscale." + label.removeprefix("quickscale_")
        assert f"{package}.apps" in report["imported"]
        assert f"{package}.conf" in report["imported"]
    assert report["adapters_without_their_package"] == {}  # the dev environment has them all
    assert report["check"] == "passed", report["check_output"]
    assert report["unapplied"] == []
    assert report["makemigrations_check"] == "clean"

    # Every route of the installed apps was requested: each page the table names, no other.
    assert report["unplanned"] == []
    expected = {page for page in PAGES if page.split(":")[0] in labels}
    assert set(report["pages"]) == expected
    sandbox = project == "billing_sandbox"
    if sandbox:
        # The requests made for "not configured" get the sandbox's answers; none is a 500.
        assert all(response["status"] < 500 for response in report["pages"].values())
        assert set(report["sandbox"]) == set(SANDBOX_PAGES)
    else:
        assert report["sandbox"] == {}
    pages = report["sandbox"] if sandbox else report["pages"]
    for page, response in pages.items():
        status, text, template = SANDBOX_PAGES[page] if sandbox else PAGES[page]
        assert (response["status"], page) == (status, page), response["body"][:2000]
        assert text in response["body"], (page, response["body"][:2000])
        if template is not None:
            assert template in response["templates"], (page, response["templates"])
            # Inside the layout: core's, or the project's own.
            assert "quickscale/base.html" in response["templates"]
            assert 'class="qs-page"' in response["body"]
            if project == "apikeys_own_layout":
                assert "The host's own layout" in response["body"]

    # The admin: every model's changelist, an object's page where there is one, each app's index.
    admin = report["admin"]
    if project == "all_apps_without_admin":
        assert admin == {}
        return
    for label in labels:
        for model in ADMIN_MODELS.get(label, []):
            assert f"admin:{label}_{model}_changelist" in admin
        if label in ADMIN_MODELS:
            assert f"admin:app_list:{label}" in admin
    for page, response in admin.items():
        assert response["status"] == 200, (page, response["body"][:2000])
        assert response["expect"].lower() in response["body"].lower(), page
    if "quickscale_credits" in labels:
        assert "admin:quickscale_credits_creditaccount_adjust" in admin
    if sandbox:  # a payment to refund
        assert "admin:quickscale_billing_payment_refund" in admin


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("services_without_credits", {"quickscale_services.E001": "quickscale.credits"}),
        ("billing_without_credits", {"quickscale_billing.E001": "quickscale.credits"}),
        (
            "api_without_dependencies",
            {
                "quickscale_api.E001": "quickscale.credits",
                "quickscale_api.E002": "quickscale.services",
                "quickscale_api.E003": "quickscale.apikeys",
            },
        ),
        (
            "pages_without_core",
            {
                "quickscale_apikeys.E012": "quickscale.core",
                "quickscale_billing.E012": "quickscale.core",
                "quickscale_audit.E008": "quickscale.core",
                "quickscale_api.E009": "quickscale.core",
            },
        ),
    ],
)
def test_missing_dependency_is_a_system_check_error_naming_the_app(
    project: str, expected: dict[str, str], scratch_database_url: str
) -> None:
    report = exercise(project, scratch_database_url)

    assert report["check"] == "failed"
    for check_id, missing_app in expected.items():
        line = next(
            line
            for line in report["check_output"].splitlines()
            if line.startswith(f"?: ({check_id})")
        )
        assert f"requires '{missing_app}'" in line

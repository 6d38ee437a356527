"""Each app's settings are validated by a system check whose id names the wrong setting."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

from quickscale.api.checks import check_settings as api_checks
from quickscale.apikeys.checks import check_settings as apikeys_checks
from quickscale.audit.checks import check_settings as audit_checks
from quickscale.billing.checks import check_settings as billing_checks
from quickscale.core.checks import check_settings as core_checks
from quickscale.credits.checks import check_settings as credits_checks
from quickscale.services.checks import check_settings as services_checks

ALL_CHECKS = [
    core_checks,
    credits_checks,
    services_checks,
    apikeys_checks,
    billing_checks,
    audit_checks,
    api_checks,
]


def ids(messages: list[checks.CheckMessage]) -> list[str]:
    return [message.id for message in messages if message.id]


@pytest.mark.django_db  # some model checks ask the database what it supports
def test_the_full_check_run_passes_with_default_settings() -> None:
    messages = checks.run_checks(include_deployment_checks=False)
    assert [m for m in messages if m.level >= checks.WARNING] == []


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_default_settings_pass_each_app_check(check: Any) -> None:
    assert check() == []


@pytest.mark.parametrize(
    ("check", "setting", "value", "check_id"),
    [
        (core_checks, "QUICKSCALE_CORE_TRUSTED_PROXIES", "10.0.0.0/8", "quickscale_core.E001"),
        (core_checks, "QUICKSCALE_CORE_TRUSTED_PROXIES", ["10.0.0.0/33"], "quickscale_core.E002"),
        (core_checks, "QUICKSCALE_CORE_TRUSTED_PROXIES", ["proxy.local"], "quickscale_core.E002"),
        (core_checks, "QUICKSCALE_CORE_REQUEST_ID_HEADER", "  ", "quickscale_core.E003"),
        (core_checks, "QUICKSCALE_CORE_PREPARED_STATEMENTS", "no", "quickscale_core.E004"),
        (credits_checks, "QUICKSCALE_CREDITS_DECIMAL_PLACES", 9, "quickscale_credits.E001"),
        (credits_checks, "QUICKSCALE_CREDITS_DECIMAL_PLACES", "2", "quickscale_credits.E001"),
        (credits_checks, "QUICKSCALE_CREDITS_DECIMAL_PLACES", True, "quickscale_credits.E001"),
        (credits_checks, "QUICKSCALE_CREDITS_HOLD_TIMEOUT", 0, "quickscale_credits.E002"),
        (services_checks, "QUICKSCALE_SERVICES_AUTODISCOVER", "yes", "quickscale_services.E002"),
        (services_checks, "QUICKSCALE_SERVICES_DEFAULT_TIMEOUT", -1, "quickscale_services.E003"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PREFIX", "QS", "quickscale_apikeys.E001"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PREFIX", "q", "quickscale_apikeys.E001"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PREFIX", "qs_live", "quickscale_apikeys.E001"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PATH_PREFIXES", "/api/", "quickscale_apikeys.E002"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PATH_PREFIXES", ["api/"], "quickscale_apikeys.E002"),
        (
            apikeys_checks,
            "QUICKSCALE_APIKEYS_PUBLIC_PATHS",
            "/api/docs/",
            "quickscale_apikeys.E003",
        ),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PEPPERS", {1: "short"}, "quickscale_apikeys.E004"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PEPPERS", {"1": "x" * 40}, "quickscale_apikeys.E004"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_PEPPER_VERSION", 3, "quickscale_apikeys.E005"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_RATE_LIMIT", 0, "quickscale_apikeys.E006"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT", "10", "quickscale_apikeys.E007"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_ROLL_GRACE", -1, "quickscale_apikeys.E008"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_CACHE", "redis", "quickscale_apikeys.E009"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE", 1, "quickscale_apikeys.E010"),
        (apikeys_checks, "QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE", "1%", "quickscale_apikeys.E010"),
        (audit_checks, "QUICKSCALE_AUDIT_SEAL_BATCH_SIZE", 0, "quickscale_audit.E001"),
        (audit_checks, "QUICKSCALE_AUDIT_RETENTION_DAYS", 0, "quickscale_audit.E002"),
        (audit_checks, "QUICKSCALE_AUDIT_CAPTURE", "*", "quickscale_audit.E003"),
        (audit_checks, "QUICKSCALE_AUDIT_CAPTURE", ["Credits"], "quickscale_audit.E003"),
        (audit_checks, "QUICKSCALE_AUDIT_EXCLUDE", ["credits debited"], "quickscale_audit.E004"),
        (audit_checks, "QUICKSCALE_AUDIT_EXCLUDE", None, "quickscale_audit.E004"),
        (audit_checks, "QUICKSCALE_AUDIT_MASKED_FIELDS", "password", "quickscale_audit.E005"),
        (audit_checks, "QUICKSCALE_AUDIT_MASKED_FIELDS", ["  "], "quickscale_audit.E005"),
        (audit_checks, "QUICKSCALE_AUDIT_TRIGGER_MODELS", "auth.User", "quickscale_audit.E006"),
        (audit_checks, "QUICKSCALE_AUDIT_TRIGGER_MODELS", ["auth.Nope"], "quickscale_audit.E007"),
        (
            audit_checks,
            "QUICKSCALE_AUDIT_TRIGGER_MODELS",
            ["quickscale_audit.AuditEvent"],
            "quickscale_audit.E007",
        ),
        (api_checks, "QUICKSCALE_API_PAGE_SIZE", 0, "quickscale_api.E004"),
        (api_checks, "QUICKSCALE_API_MAX_PAGE_SIZE", "many", "quickscale_api.E005"),
        (api_checks, "QUICKSCALE_API_PAGE_SIZE", 500, "quickscale_api.E006"),
    ],
)
def test_a_wrong_setting_is_reported_with_its_check_id_and_name(
    check: Any, setting: str, value: Any, check_id: str
) -> None:
    with override_settings(**{setting: value}):
        messages = check()

    assert ids(messages) == [check_id]
    assert setting in messages[0].msg


def test_audit_retention_accepts_none_meaning_forever() -> None:
    with override_settings(QUICKSCALE_AUDIT_RETENTION_DAYS=None):
        assert audit_checks() == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("QUICKSCALE_AUDIT_CAPTURE", ["auth", "credits.", "apikey.revoked"]),
        ("QUICKSCALE_AUDIT_CAPTURE", {"*"}),
        ("QUICKSCALE_AUDIT_EXCLUDE", ("credits.debited",)),
        ("QUICKSCALE_AUDIT_TRIGGER_MODELS", ["auth.User", "quickscale_services.Service"]),
    ],
)
def test_valid_audit_settings_pass(setting: str, value: Any) -> None:
    with override_settings(**{setting: value}):
        assert audit_checks() == []


def test_row_level_capture_off_postgresql_is_a_warning(settings: Any) -> None:
    from django.db import connection

    from quickscale.audit.checks import check_database

    settings.QUICKSCALE_AUDIT_TRIGGER_MODELS = ["auth.User"]
    messages = check_database(databases=["default"])

    if connection.vendor == "postgresql":
        assert messages == []
    else:
        assert ids(messages) == ["quickscale_audit.W001"]
        assert "needs PostgreSQL" in messages[0].msg


def test_partially_configured_billing_warns_naming_each_missing_setting() -> None:
    with override_settings(QUICKSCALE_BILLING_STRIPE_SECRET_KEY="sk_test_123"):
        messages = billing_checks()

    assert ids(messages) == ["quickscale_billing.W001"]
    assert "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY" in messages[0].msg
    assert "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET" in messages[0].msg
    assert "QUICKSCALE_BILLING_STRIPE_SECRET_KEY" not in messages[0].msg


def test_fully_configured_billing_passes() -> None:
    with override_settings(
        QUICKSCALE_BILLING_STRIPE_SECRET_KEY="sk_test_123",
        QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY="pk_test_123",
        QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET="whsec_123",
    ):
        assert billing_checks() == []


def test_sqlite_with_more_places_than_it_keeps_exact_is_an_error(settings: Any) -> None:
    from django.db import connection

    from quickscale.credits.checks import check_database

    settings.QUICKSCALE_CREDITS_DECIMAL_PLACES = 4
    messages = check_database(databases=["default"])

    if connection.vendor == "sqlite":
        assert ids(messages) == ["quickscale_credits.E005"]
    else:
        assert messages == []


# -- deployment -------------------------------------------------------------------------------


def deployment_ids() -> set[str]:
    return {message.id for message in checks.run_checks(include_deployment_checks=True)}


def core_deployment_ids() -> set[str]:
    from quickscale.core.checks import check_deployment

    return {message.id for message in check_deployment()}


# Only the check reads these DATABASES; Django warns that other code might not follow them.
OVERRIDING_DATABASES = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
SQLITE = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
POSTGRESQL = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "quickscale"}}


@OVERRIDING_DATABASES
def test_a_deployment_on_sqlite_is_warned_about() -> None:
    with override_settings(DATABASES=SQLITE):
        assert "quickscale_core.W001" in core_deployment_ids()


@OVERRIDING_DATABASES
def test_a_deployment_on_postgresql_with_a_worker_backend_gets_neither_warning() -> None:
    worker = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    with override_settings(DATABASES=POSTGRESQL, TASKS=worker):
        assert {"quickscale_core.W001", "quickscale_core.W002"}.isdisjoint(core_deployment_ids())


@pytest.mark.parametrize(
    "tasks",
    [
        {},
        {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}},
        {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}},
    ],
    ids=["unset", "immediate", "dummy"],
)
def test_a_deployment_without_a_task_worker_is_warned_about(tasks: dict[str, Any]) -> None:
    with override_settings(TASKS=tasks):
        assert "quickscale_core.W002" in deployment_ids()


def test_the_deployment_warnings_are_for_check_deploy_only() -> None:
    assert not any(message.id.startswith("quickscale_core.W") for message in checks.run_checks())


class HoldsElsewhere:
    """A router that sends one of the ledger's tables to another database."""

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "ledger_replica" if model._meta.model_name == "credithold" else None


class CreditsToDefault:
    """A router that names the default database for the credits app, as a project may."""

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default" if model._meta.app_label == "quickscale_credits" else None


def test_a_router_that_splits_the_ledger_is_an_error_naming_the_model() -> None:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.HoldsElsewhere"]):
        messages = checks.run_checks()

    errors = [m for m in messages if m.id == "quickscale_credits.E006"]
    assert len(errors) == 1
    assert "quickscale_credits.CreditHold to 'ledger_replica'" in errors[0].msg
    assert "quickscale_credits.CreditAccount to 'default'" in errors[0].msg


def test_a_router_that_keeps_the_ledger_on_the_default_database_passes() -> None:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.CreditsToDefault"]):
        messages = checks.run_checks()

    assert "quickscale_credits.E006" not in ids(messages)


class LedgerElsewhere:
    """A router that keeps the ledger together, on another database than the service runs."""

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "ledger_replica" if model._meta.app_label == "quickscale_credits" else None


def test_a_router_that_keeps_the_ledger_together_elsewhere_passes_the_ledgers_check() -> None:
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.LedgerElsewhere"]):
        messages = checks.run_checks()

    assert "quickscale_credits.E006" not in ids(messages)
    errors = [m for m in messages if m.id == "quickscale_services.E007"]
    assert len(errors) == 1
    assert "service runs to 'default' but the credit ledger to 'ledger_replica'" in errors[0].msg

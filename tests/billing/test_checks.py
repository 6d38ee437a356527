"""Billing's system checks: partial configuration, keys of the wrong kind, bad values."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from quickscale.billing.checks import check_settings

CONFIGURED = {
    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY": "sk_test_123",
    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY": "pk_test_123",
    "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET": "whsec_123",
}


def ids(**overrides: Any) -> list[str]:
    with override_settings(**{**CONFIGURED, **overrides}):
        return [message.id for message in check_settings() if message.id]


def test_a_complete_configuration_passes() -> None:
    assert ids() == []


def test_a_restricted_key_is_a_secret_key() -> None:
    assert (
        ids(
            QUICKSCALE_BILLING_STRIPE_SECRET_KEY="rk_live_123",
            QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY="pk_live_123",
        )
        == []
    )


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("QUICKSCALE_BILLING_STRIPE_SECRET_KEY", "pk_test_123", "quickscale_billing.E002"),
        ("QUICKSCALE_BILLING_STRIPE_SECRET_KEY", 123, "quickscale_billing.E002"),
        ("QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY", "sk_test_123", "quickscale_billing.E003"),
        ("QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET", "sk_test_123", "quickscale_billing.E004"),
        ("QUICKSCALE_BILLING_WEBHOOK_TOLERANCE", 0, "quickscale_billing.E005"),
        ("QUICKSCALE_BILLING_WEBHOOK_TOLERANCE", "300", "quickscale_billing.E005"),
        ("QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS", [], "quickscale_billing.E006"),
    ],
)
def test_a_wrong_value_is_an_error_naming_the_setting(
    setting: str, value: Any, check_id: str
) -> None:
    with override_settings(**{**CONFIGURED, setting: value}):
        messages = check_settings()

    assert [message.id for message in messages] == [check_id]
    assert setting in messages[0].msg


def test_the_error_never_shows_the_secret() -> None:
    with override_settings(
        **{**CONFIGURED, "QUICKSCALE_BILLING_STRIPE_SECRET_KEY": "whsec_abcdef"}
    ):
        [message] = check_settings()

    assert "abcdef" not in message.msg
    assert "'whsec'" in message.msg


def test_live_and_test_keys_mixed_is_a_warning() -> None:
    assert ids(QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY="pk_live_123") == [
        "quickscale_billing.W002"
    ]


def test_unconfigured_billing_passes() -> None:
    assert (
        ids(
            QUICKSCALE_BILLING_STRIPE_SECRET_KEY="",
            QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY="",
            QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET="",
        )
        == []
    )


# -- the payment sandbox ----------------------------------------------------------------------

NO_KEYS = {name: "" for name in CONFIGURED}


def sandbox_messages(**overrides: Any) -> list[Any]:
    with override_settings(**{**NO_KEYS, "QUICKSCALE_BILLING_SANDBOX": True, **overrides}):
        return [message for message in check_settings() if message.id]


def test_the_sandbox_in_development_passes() -> None:
    assert sandbox_messages(DEBUG=True) == []


@pytest.mark.parametrize(
    ("overrides", "check_id", "named"),
    [
        ({"DEBUG": False}, "quickscale_billing.E008", "DEBUG"),
        ({"DEBUG": True, "QUICKSCALE_ENV": "production"}, "quickscale_billing.E009", "production"),
        ({"DEBUG": True, **CONFIGURED}, "quickscale_billing.E010", "STRIPE_SECRET_KEY"),
        ({"QUICKSCALE_BILLING_SANDBOX": "yes"}, "quickscale_billing.E011", "True or False"),
    ],
    ids=["debug-off", "production", "stripe-keys", "not-a-bool"],
)
def test_the_sandbox_outside_development_is_an_error_naming_the_setting(
    overrides: dict[str, Any], check_id: str, named: str
) -> None:
    [message] = sandbox_messages(**overrides)

    assert message.id == check_id
    assert "QUICKSCALE_BILLING_SANDBOX" in message.msg and named in message.msg
    assert message.hint and "QUICKSCALE_BILLING_SANDBOX" in message.hint


def test_the_production_environment_variable_is_read_when_the_setting_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUICKSCALE_ENV", "production")

    assert [m.id for m in sandbox_messages(DEBUG=True)] == ["quickscale_billing.E009"]

"""System checks for the settings of ``quickscale.billing``.

Billing is enabled only when the three Stripe settings are all set; some but not all is a
warning (billing stays off). A set value of the wrong kind (a publishable key where the secret
key belongs, live and test keys mixed) is reported before the first request fails on it. The
payment sandbox is refused with ``DEBUG`` off, in production and beside Stripe keys
(``E008``-``E010``); the sandbox reads the same conditions again at run time, where checks do
not run (a WSGI server).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.billing.sandbox import guard
from quickscale.core.checks import integer_setting_error

#: The prefixes a value of each setting starts with, and the check id reporting another.
KEY_FORMATS = (
    ("QUICKSCALE_BILLING_STRIPE_SECRET_KEY", ("sk_", "rk_"), "quickscale_billing.E002"),
    ("QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY", ("pk_",), "quickscale_billing.E003"),
    ("QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET", ("whsec_",), "quickscale_billing.E004"),
)


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Billing's settings: the three Stripe keys set together and of the right form (and mode),
    the webhook tolerance and client options valid, the sandbox allowed, and the stripe
    package installed when it is needed."""
    messages: list[checks.CheckMessage] = []
    names = [name for name, _, _ in KEY_FORMATS]
    missing = [name for name in names if not getattr(settings, name)]
    if missing and len(missing) < len(names):
        messages.append(
            checks.Warning(
                "Billing is disabled: "
                + " and ".join(missing)
                + (" is" if len(missing) == 1 else " are")
                + " not set.",
                hint="Set all three Stripe settings to enable billing, or none to silence this.",
                id="quickscale_billing.W001",
            )
        )
    for name, prefixes, check_id in KEY_FORMATS:
        value = getattr(settings, name)
        if not value:
            continue
        if not isinstance(value, str) or not value.startswith(prefixes):
            # Only the part before the first "_" is shown: never any of a secret.
            shown = (
                f"a value starting {value.split('_', 1)[0]!r}"
                if isinstance(value, str)
                else type(value).__name__
            )
            messages.append(
                checks.Error(
                    f"{name} must start with {' or '.join(prefixes)}, not {shown}.",
                    hint="Copy it from the Stripe dashboard (Developers > API keys, or the "
                    "webhook endpoint's signing secret).",
                    id=check_id,
                )
            )
    secret = settings.QUICKSCALE_BILLING_STRIPE_SECRET_KEY
    public = settings.QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY
    if isinstance(secret, str) and isinstance(public, str) and secret and public:
        modes = {_mode(secret), _mode(public)}
        if modes == {"live", "test"}:
            messages.append(
                checks.Warning(
                    "QUICKSCALE_BILLING_STRIPE_SECRET_KEY and "
                    "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY mix live and test mode.",
                    hint="Use both keys of the same mode.",
                    id="quickscale_billing.W002",
                )
            )
    error = integer_setting_error(
        "QUICKSCALE_BILLING_WEBHOOK_TOLERANCE", "quickscale_billing.E005", minimum=1
    )
    if error is not None:
        messages.append(error)
    options = settings.QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS
    if not isinstance(options, dict) or not all(isinstance(key, str) for key in options):
        messages.append(
            checks.Error(
                "QUICKSCALE_BILLING_STRIPE_CLIENT_OPTIONS must be a dict of keyword arguments "
                f"for stripe.StripeClient, not {options!r}.",
                id="quickscale_billing.E006",
            )
        )
    messages.extend(sandbox_messages())
    if (not missing or guard.requested()) and importlib.util.find_spec("stripe") is None:
        messages.append(
            checks.Error(
                ("QUICKSCALE_BILLING_SANDBOX is on" if missing else "Billing is configured")
                + " but the stripe package is not installed.",
                hint='Install the extra: pip install "django-quickscale[stripe]".',
                id="quickscale_billing.E007",
            )
        )
    return messages


def sandbox_messages() -> list[checks.CheckMessage]:
    """The payment sandbox is for development: never with DEBUG off, in production, or beside
    Stripe keys (Stripe would then be used, not the sandbox)."""
    value = getattr(settings, guard.SETTING)
    if not isinstance(value, bool):
        return [
            checks.Error(
                f"{guard.SETTING} must be True or False, not {value!r}.",
                hint=f"Set {guard.SETTING} = True in development to use the payment sandbox, "
                "else False.",
                id="quickscale_billing.E011",
            )
        ]
    if not value:
        return []
    messages: list[checks.CheckMessage] = []
    if not settings.DEBUG:
        messages.append(
            checks.Error(
                f"{guard.SETTING} is on while DEBUG is off: the payment sandbox is for "
                "development only and refuses to act.",
                hint=f"Set {guard.SETTING} = False (and the Stripe settings) in production; "
                "in development turn DEBUG on.",
                id="quickscale_billing.E008",
            )
        )
    if guard.environment() == "production":
        messages.append(
            checks.Error(
                f"{guard.SETTING} is on while QUICKSCALE_ENV is production: the payment "
                "sandbox never runs in production.",
                hint=f"Set {guard.SETTING} = False and configure Stripe for production.",
                id="quickscale_billing.E009",
            )
        )
    keys = guard.stripe_keys_set()
    if keys:
        messages.append(
            checks.Error(
                f"{guard.SETTING} is on while {' and '.join(keys)} "
                f"{'is' if len(keys) == 1 else 'are'} set: billing would use Stripe, not the "
                "sandbox.",
                hint=f"Unset the Stripe settings to use the sandbox, or set {guard.SETTING} = "
                "False to use Stripe.",
                id="quickscale_billing.E010",
            )
        )
    return messages


def _mode(key: str) -> str:
    """``live`` or ``test`` from a key such as ``sk_live_...``; ``""`` when it says neither."""
    parts = key.split("_")
    return parts[1] if len(parts) > 2 and parts[1] in ("live", "test") else ""

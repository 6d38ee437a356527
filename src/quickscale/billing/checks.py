"""System checks for the settings of ``quickscale.billing``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    names = [
        "QUICKSCALE_BILLING_STRIPE_SECRET_KEY",
        "QUICKSCALE_BILLING_STRIPE_PUBLISHABLE_KEY",
        "QUICKSCALE_BILLING_STRIPE_WEBHOOK_SECRET",
    ]
    missing = [name for name in names if not getattr(settings, name)]
    if missing and len(missing) < len(names):
        return [
            checks.Warning(
                "Billing is disabled: "
                + " and ".join(missing)
                + (" is" if len(missing) == 1 else " are")
                + " not set.",
                hint="Set all three Stripe settings to enable billing, or none to silence this.",
                id="quickscale_billing.W001",
            )
        ]
    return []

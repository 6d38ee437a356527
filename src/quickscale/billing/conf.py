"""Settings of ``quickscale.billing`` (prefix ``QUICKSCALE_BILLING_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from typing import Any

from appconf import AppConf
from django.conf import settings

__all__ = ["BillingAppConf", "settings"]


class BillingAppConf(AppConf):
    """The defaults of billing's settings (``QUICKSCALE_BILLING_*``)."""

    #: Stripe secret API key (``sk_...``, or a restricted ``rk_...`` key). Billing is enabled
    #: only when all three keys are set.
    STRIPE_SECRET_KEY = ""
    #: Stripe publishable key (``pk_...``), used by the checkout pages.
    STRIPE_PUBLISHABLE_KEY = ""
    #: Signing secret of the webhook endpoint (``whsec_...``).
    STRIPE_WEBHOOK_SECRET = ""
    #: Seconds a webhook's signature timestamp may be old before the delivery is refused (a
    #: replayed request). Stripe's libraries use 300.
    WEBHOOK_TOLERANCE = 300
    #: Extra keyword arguments for ``stripe.StripeClient``: ``max_network_retries`` (default
    #: 2), ``proxy``, ``http_client``, ``stripe_account``...
    STRIPE_CLIENT_OPTIONS: dict[str, Any] = {}
    #: Development only: billing runs against the payment sandbox, a local stand-in for
    #: Stripe (no account, no network, no money). It acts only with ``DEBUG`` on, outside
    #: ``QUICKSCALE_ENV=production`` and without Stripe keys.
    SANDBOX = False

    class Meta:
        prefix = "QUICKSCALE_BILLING"

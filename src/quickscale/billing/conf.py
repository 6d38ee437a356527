"""Settings of ``quickscale.billing`` (prefix ``QUICKSCALE_BILLING_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["BillingAppConf", "settings"]


class BillingAppConf(AppConf):
    #: Stripe secret API key (``sk_...``). Billing is enabled only when all three keys are set.
    STRIPE_SECRET_KEY = ""
    #: Stripe publishable key (``pk_...``), used by the checkout pages.
    STRIPE_PUBLISHABLE_KEY = ""
    #: Signing secret of the webhook endpoint (``whsec_...``).
    STRIPE_WEBHOOK_SECRET = ""

    class Meta:
        prefix = "QUICKSCALE_BILLING"

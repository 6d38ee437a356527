"""Settings of ``quickscale.credits`` (prefix ``QUICKSCALE_CREDITS_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["CreditsAppConf", "settings"]


class CreditsAppConf(AppConf):
    #: Decimal places of every credit amount; amounts with more places are refused.
    DECIMAL_PLACES = 2
    #: Seconds a hold reserves credits before the sweep releases it.
    HOLD_TIMEOUT = 15 * 60

    class Meta:
        prefix = "QUICKSCALE_CREDITS"

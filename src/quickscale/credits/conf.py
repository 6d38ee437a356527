"""Settings of ``quickscale.credits`` (prefix ``QUICKSCALE_CREDITS_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from decimal import Decimal

from appconf import AppConf
from django.conf import settings

__all__ = ["CreditsAppConf", "settings"]


class CreditsAppConf(AppConf):
    """The defaults of the ledger's settings (``QUICKSCALE_CREDITS_*``)."""

    #: Decimal places of every credit amount; amounts with more places are refused (at most 8,
    #: which is what the database columns store).
    DECIMAL_PLACES = 2
    #: The largest amount one operation may move.
    MAX_AMOUNT = Decimal("1000000000")
    #: Seconds a hold reserves credits before the sweep releases it.
    HOLD_TIMEOUT = 15 * 60
    #: Days after which a grant of each source expires when the caller gives no ``expires_at``.
    #: Sources not listed never expire.
    EXPIRY_DAYS: dict[str, int] = {"subscription": 31}

    class Meta:
        prefix = "QUICKSCALE_CREDITS"

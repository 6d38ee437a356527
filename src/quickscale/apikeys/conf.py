"""Settings of ``quickscale.apikeys`` (prefix ``QUICKSCALE_APIKEYS_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["APIKeysAppConf", "settings"]


class APIKeysAppConf(AppConf):
    #: First part of every token, so secret scanners can recognise leaked keys.
    PREFIX = "qs"
    #: Request paths the API key middleware authenticates; everything else is left alone.
    PATH_PREFIXES = ["/api/"]

    class Meta:
        prefix = "QUICKSCALE_APIKEYS"

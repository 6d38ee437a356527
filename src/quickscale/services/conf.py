"""Settings of ``quickscale.services`` (prefix ``QUICKSCALE_SERVICES_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["ServicesAppConf", "settings"]


class ServicesAppConf(AppConf):
    """The defaults of the services' settings (``QUICKSCALE_SERVICES_*``)."""

    #: Import ``services.py`` from every installed app at start-up.
    AUTODISCOVER = True
    #: Seconds a held service may run before it counts as failed and its hold is released.
    DEFAULT_TIMEOUT = 60

    class Meta:
        prefix = "QUICKSCALE_SERVICES"

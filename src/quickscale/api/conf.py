"""Settings of ``quickscale.api`` (prefix ``QUICKSCALE_API_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["APIAppConf", "settings"]


class APIAppConf(AppConf):
    """The defaults of the API's settings (``QUICKSCALE_API_*``)."""

    #: Items per page of list endpoints when the client does not ask for a size.
    PAGE_SIZE = 50
    #: The largest page a client may ask for.
    MAX_PAGE_SIZE = 200

    class Meta:
        prefix = "QUICKSCALE_API"

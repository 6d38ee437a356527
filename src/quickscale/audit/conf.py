"""Settings of ``quickscale.audit`` (prefix ``QUICKSCALE_AUDIT_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["AuditAppConf", "settings"]


class AuditAppConf(AppConf):
    #: Rows hashed into the chain per sealing step.
    SEAL_BATCH_SIZE = 1000
    #: Days events are kept by the prune command; None keeps them forever.
    RETENTION_DAYS: int | None = None

    class Meta:
        prefix = "QUICKSCALE_AUDIT"

"""Settings of ``quickscale.audit`` (prefix ``QUICKSCALE_AUDIT_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["AuditAppConf", "settings"]


class AuditAppConf(AppConf):
    """The defaults of the audit log's settings (``QUICKSCALE_AUDIT_*``)."""

    #: Rows hashed into the chain per sealing step.
    SEAL_BATCH_SIZE = 1000
    #: Days events are kept by the prune command; None keeps them forever.
    RETENTION_DAYS: int | None = None
    #: Actions recorded: exact names (``"apikey.revoked"``), dotted prefixes (``"credits"``
    #: covers ``credits.granted``...) or ``"*"`` for every action.
    CAPTURE: list[str] = ["*"]
    #: Actions never recorded, in the same form; they win over ``CAPTURE``. For example
    #: ``["credits.debited"]`` keeps a very hot debit path out of the log.
    EXCLUDE: list[str] = []
    #: Field names containing any of these (case-insensitive) have their values masked in
    #: ``changes`` and ``metadata``.
    MASKED_FIELDS: list[str] = [
        "password",
        "passwd",
        "secret",
        "token",
        "pepper",
        "api_key",
        "private_key",
        "card_number",
    ]
    #: Models (``"app_label.ModelName"``) whose every row change is recorded by a database
    #: trigger on PostgreSQL, ``update()``, bulk operations and raw SQL included.
    TRIGGER_MODELS: list[str] = []

    class Meta:
        prefix = "QUICKSCALE_AUDIT"

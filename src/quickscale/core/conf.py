"""Settings of ``quickscale.core`` (prefix ``QUICKSCALE_CORE_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["CoreAppConf", "settings"]


class CoreAppConf(AppConf):
    """The defaults of core's settings (``QUICKSCALE_CORE_*``)."""

    #: Networks (CIDR strings) of reverse proxies whose X-Forwarded-For header is believed.
    #: Empty means the TCP peer address is always the client address.
    TRUSTED_PROXIES: list[str] = []
    #: Header carrying a request id from the edge; one is generated when it is absent.
    REQUEST_ID_HEADER = "X-Request-ID"
    #: Run the statements of a paid API call (the key lookup, the catalog row, the debit) as
    #: prepared statements on PostgreSQL with psycopg 3. Turn off behind a pooler that does not
    #: keep prepared statements (PgBouncer in transaction mode before 1.22).
    PREPARED_STATEMENTS = True

    class Meta:
        prefix = "QUICKSCALE_CORE"

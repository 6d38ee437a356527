"""The example project's settings (``core.settings``) as the fault harness runs them.

Everything comes from ``core.settings`` and the environment the harness sets (``DATABASE_URL``,
``REDIS_URL``, ``SECRET_KEY``, ``DEBUG``...). Two things the example does not read from the
environment are changed here, and only when the harness asks:

- ``FAULTS_SERVICES_TIMEOUT``: ``QUICKSCALE_SERVICES_DEFAULT_TIMEOUT`` in seconds. The sweep
  finishes a run whose worker died once it started more than its timeout plus a minute ago;
  ``--short`` sets 10 s so that phase takes about 75 s instead of two minutes.
- ``FAULTS_POOLER=pgbouncer-transaction``: the settings ``docs/deployment.md`` asks for behind
  a transaction-mode PgBouncer older than 1.22 (Debian 12 ships 1.18): no server-side
  cursors, and the suite's prepared statements off.
"""

from __future__ import annotations

import os

from core.settings import *  # noqa: F403
from core.settings import DATABASES

if os.environ.get("FAULTS_SERVICES_TIMEOUT"):
    QUICKSCALE_SERVICES_DEFAULT_TIMEOUT = int(os.environ["FAULTS_SERVICES_TIMEOUT"])

if os.environ.get("FAULTS_POOLER") == "pgbouncer-transaction":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    QUICKSCALE_CORE_PREPARED_STATEMENTS = False

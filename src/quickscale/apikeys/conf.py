"""Settings of ``quickscale.apikeys`` (prefix ``QUICKSCALE_APIKEYS_``).

Read them through ``django.conf.settings`` at call time; this class only supplies defaults.
"""

from __future__ import annotations

from appconf import AppConf
from django.conf import settings

__all__ = ["APIKeysAppConf", "settings"]


class APIKeysAppConf(AppConf):
    """The defaults of the ``QUICKSCALE_APIKEYS_*`` settings."""

    #: First part of every token, so secret scanners can recognise leaked keys.
    PREFIX = "qs"
    #: Request paths the API key middleware authenticates; it leaves every other path alone.
    #: Keys work elsewhere too: ``require_scopes`` and the adapters of ``contrib`` authenticate
    #: the key themselves where the middleware did not.
    PATH_PREFIXES = ["/api/"]
    #: Paths under those prefixes that stay public (API documentation).
    PUBLIC_PATHS = ["/api/docs/", "/api/v1/openapi.json"]
    #: Server-side secrets mixed into every stored key hash, by version: ``{1: "..."}``. Empty
    #: means version 0, derived from ``SECRET_KEY``. Add a version to rotate: keys hashed with
    #: an older version keep working while it stays listed.
    PEPPERS: dict[int, str] = {}
    #: The version new keys are hashed with (the highest of ``PEPPERS`` when ``None``).
    PEPPER_VERSION: int | None = None
    #: Requests per minute a key may make unless the key sets its own limit.
    RATE_LIMIT = 600
    #: The share of a key's limit one process counts in the cache at once: its requests within
    #: that share cost no cache call (0.01: a key with the default limit of 600 counts 6 at a
    #: time). Never more than the limit is admitted; a process's unused counts when the minute
    #: ends may let the others admit a little less. ``0`` counts every request on its own.
    RATE_LIMIT_LEASE = 0.01
    #: Failed authentications per client address per minute before further attempts get 429.
    FAILED_AUTH_LIMIT = 30
    #: Seconds a rolled key keeps working after its replacement was made.
    ROLL_GRACE = 24 * 3600
    #: The cache (an alias of ``CACHES``) that counts requests for rate limits.
    CACHE = "default"
    #: What the rate limits do when that cache cannot be reached: ``True`` serves the request
    #: without counting it (and a bad key still gets 401, its failure uncounted); ``False``
    #: answers 503 with ``Retry-After`` and the code ``rate_limit_unavailable``. Open by
    #: default: for a paid API, failing closed turns a cache outage into a full outage, while
    #: failing open only loses rate limiting for its duration; every run is still paid for
    #: from the credit ledger, which lives in the database, so no money is at risk. Close it
    #: when the limits protect something costlier than the requests themselves.
    RATE_LIMIT_FAIL_OPEN = True

    class Meta:
        prefix = "QUICKSCALE_APIKEYS"

"""Fixed-window request counters in Django's cache (Redis in production, local memory in the
demo), shared by every process that shares the cache.

A process counts a key's requests in the cache a batch at a time: it takes a lease of
``QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE`` of the key's limit (at least one request) and admits
that many without a cache call. Taking a lease reads the failed authentications of the address
(``get``) and counts the batch (``incr``, or ``add`` for the window's first), through the
cache's public methods only. The shared count never admits more than the limit; counts a
process leased and did not use when the minute ends may make the others refuse a little early
(at most one lease less one request per process).

A failed authentication counts against its address; once an address is over its limit, the
process remembers it until the window ends, so a flood of bad keys from it costs no query at
all. A process learns that another one saw an address go over its limit when it counts a
failure from it or takes a lease for a request from it.

When the cache cannot be reached, ``QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN`` decides: serve the
request uncounted (the default), or refuse it with ``RateLimitUnavailable`` (a 503). Either way
a warning is logged, once a minute at most per process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.utils.translation import gettext

from quickscale.apikeys.exceptions import RateLimited, RateLimitUnavailable

logger = logging.getLogger(__name__)

WINDOW = 60
#: Addresses remembered as over their failure limit, per process, at most.
MAX_BLOCKED = 10_000
#: Seconds a client refused because the cache is down is asked to wait.
UNAVAILABLE_RETRY_AFTER = 10
#: Seconds between two warnings that the cache cannot be reached, per process.
WARNING_INTERVAL = 60

T = TypeVar("T")

_blocked: dict[str, float] = {}  # cache key of the address's window -> when the window ends
_blocked_lock = threading.Lock()
#: Requests this process may still admit without a cache call, by key window; the window they
#: belong to (older leases are dropped when it changes).
_leases: dict[str, int] = {}
_lease_window = [0]
_leases_lock = threading.Lock()
#: When this process last warned that the cache is out of reach, and the failures since then.
_warned_at = [-math.inf]
_unlogged = [0]
_warned_lock = threading.Lock()
_clock = time.time  # the wall clock the windows follow (tests hold it still)
_monotonic = time.monotonic


def _window() -> tuple[int, float]:
    now = _clock()
    start = int(now // WINDOW) * WINDOW
    return start, start + WINDOW - now


def _name(bucket: str, start: int) -> str:
    return f"quickscale:rate:{bucket}:{start}"


def _cache() -> BaseCache:
    return caches[settings.QUICKSCALE_APIKEYS_CACHE]


def _key_limited(limit: int, left: float) -> RateLimited:
    return RateLimited(
        gettext("Too many requests: the limit is %(limit)s a minute.") % {"limit": limit},
        retry_after=max(1, math.ceil(left)),
    )


def _address_limited(left: float) -> RateLimited:
    return RateLimited(
        gettext("Too many failed authentications from this address."),
        retry_after=max(1, math.ceil(left)),
    )


def check_address(ip: str | None) -> None:
    """Raise ``RateLimited`` when this process saw ``ip`` go over its failure limit in the
    current window. Costs no cache call."""
    start, left = _window()
    if _name(f"auth-failures:{ip}", start) in _blocked:
        raise _address_limited(left)


def admit(ip: str | None, key_id: str, limit: int) -> None:
    """Admit an authenticated request of a key allowed ``limit`` a minute, from its lease when
    this process holds one; else check the address's failed authentications and take a lease.
    Raise ``RateLimited`` past either limit, and ``RateLimitUnavailable`` when the cache cannot
    be reached and the limits fail closed (failing open, the request is admitted uncounted)."""
    start, left = _window()
    key_name = _name(f"key:{key_id}", start)
    with _leases_lock:
        remaining = _leases.get(key_name, 0)
        if remaining > 0:
            _leases[key_name] = remaining - 1
            return
    batch = max(1, int(limit * settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE))
    address_name = _name(f"auth-failures:{ip}", start)
    cache = _cache()
    failures = _reach(lambda: int(cache.get(address_name) or 0))
    if failures is None:
        return
    if failures >= settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        _remember(address_name, left)
        raise _address_limited(left)
    count = _reach(lambda: _increment(cache, key_name, batch))
    if count is None:
        return
    granted = min(batch, limit - (count - batch))  # what is left of the limit, this batch at most
    if granted <= 0:
        raise _key_limited(limit, left)
    if granted > 1:
        with _leases_lock:
            if _lease_window[0] != start:
                _leases.clear()
                _lease_window[0] = start
            _leases[key_name] = _leases.get(key_name, 0) + granted - 1


def fail(ip: str | None) -> None:
    """Count a failed authentication from ``ip``; raise ``RateLimited`` once the address has
    more than ``QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT`` this minute, and
    ``RateLimitUnavailable`` when the cache cannot be reached and the limits fail closed
    (failing open, the failure is not counted)."""
    start, left = _window()
    name = _name(f"auth-failures:{ip}", start)
    cache = _cache()
    count = _reach(lambda: _increment(cache, name))
    if count is None:
        return
    if count >= settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        _remember(name, left)
    if count > settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        raise _address_limited(left)


def reset() -> None:
    """Forget the addresses this process remembers as over their limit, the leases it holds
    (after clearing the cache, e.g. between tests) and when it last warned of the cache."""
    with _blocked_lock:
        _blocked.clear()
    with _leases_lock:
        _leases.clear()
    with _warned_lock:
        _warned_at[0] = -math.inf
        _unlogged[0] = 0


def _reach(call: Callable[[], T]) -> T | None:
    """The result of ``call``, a round trip to the rate limits' cache; ``None`` when the cache
    cannot be reached and the limits fail open. Failing closed raises ``RateLimitUnavailable``.

    Django's cache API has no error of its own: each backend raises its client's (redis-py's
    ``ConnectionError`` or ``TimeoutError``, pymemcache's errors, ``OSError``, a database
    error for the database cache), so any exception of the call means the cache is out of
    reach. ``call`` does nothing but the cache operations, so no error of ours is caught here.
    """
    try:
        return call()
    except Exception as error:  # any error of the backend's client (see above)
        fail_open = settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN
        _warn(error, fail_open)
        if fail_open:
            return None
        raise RateLimitUnavailable(
            gettext(
                "Requests cannot be counted against their rate limits right now; try again shortly."
            ),
            retry_after=UNAVAILABLE_RETRY_AFTER,
        ) from error


def _warn(error: Exception, fail_open: bool) -> None:
    """Log that the cache cannot be reached, once per ``WARNING_INTERVAL`` at most: a cache
    outage under load would otherwise log a line per request."""
    now = _monotonic()
    with _warned_lock:
        if now - _warned_at[0] < WARNING_INTERVAL:
            _unlogged[0] += 1
            return
        unlogged = _unlogged[0]
        _warned_at[0] = now
        _unlogged[0] = 0
    logger.warning(
        "Rate limits cannot reach the cache %r (%s: %s): requests are %s "
        "(QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = %s); %d more failures since the last of "
        "these warnings, which are logged once every %d seconds at most.",
        settings.QUICKSCALE_APIKEYS_CACHE,
        type(error).__name__,
        error,
        "served without being counted" if fail_open else "refused with 503",
        fail_open,
        unlogged,
        WARNING_INTERVAL,
    )


def _remember(name: str, left: float) -> None:
    now = _monotonic()
    with _blocked_lock:
        if len(_blocked) >= MAX_BLOCKED:
            for stale in [n for n, until in _blocked.items() if until <= now]:
                del _blocked[stale]
            if len(_blocked) >= MAX_BLOCKED:
                return  # a flood from very many addresses: they cost a query each
        _blocked[name] = now + left
    # The window's name changes when it ends, so a remembered name stops matching by itself;
    # expired entries are dropped when the table fills.


def _increment(cache: BaseCache, name: str, amount: int = 1) -> int:
    """Add ``amount`` to the window's counter ``name``; the new count."""
    try:
        return int(cache.incr(name, amount))
    except ValueError:  # the window's first count (or its counter expired)
        if cache.add(name, amount, timeout=WINDOW + 5):
            return amount
        return int(cache.incr(name, amount))  # another process counted first

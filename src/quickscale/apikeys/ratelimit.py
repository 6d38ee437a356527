"""Fixed-window request counters in Django's cache (Redis in production, local memory in the
demo), shared by every process that shares the cache.

A process counts a key's requests in the cache a batch at a time: it takes a lease of
``QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE`` of the key's limit (at least one request) and admits
that many without a cache call. Taking a lease is one cache round trip that also reads the
failed authentications of the address (one script on Django's Redis cache; ``get`` then
``add``/``incr`` on other caches). The shared count never admits more than the limit; counts a
process leased and did not use when the minute ends may make the others refuse a little early
(at most one lease less one request per process).

A failed authentication counts against its address; once an address is over its limit, the
process remembers it until the window ends, so a flood of bad keys from it costs no query at
all. A process learns that another one saw an address go over its limit when it counts a
failure from it or takes a lease for a request from it.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

from quickscale.apikeys.exceptions import RateLimited

WINDOW = 60
#: Addresses remembered as over their failure limit, per process, at most.
MAX_BLOCKED = 10_000

#: Count ARGV[2] requests in KEYS[1] (created with a lifetime of ARGV[1] seconds) and read
#: KEYS[2]: one command, so one round trip and one reply to parse.
ADMIT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return {redis.call('INCRBY', KEYS[1], ARGV[2]), redis.call('GET', KEYS[2])}
"""
#: Count one in KEYS[1].
COUNT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return redis.call('INCR', KEYS[1])
"""

_blocked: dict[str, float] = {}  # cache key of the address's window -> when the window ends
_blocked_lock = threading.Lock()
#: Requests this process may still admit without a cache call, by key window; the window they
#: belong to (older leases are dropped when it changes).
_leases: dict[str, int] = {}
_lease_window = [0]
_leases_lock = threading.Lock()
_clock = time.time  # the wall clock the windows follow (tests hold it still)


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
        f"Too many requests: the limit is {limit} a minute.", retry_after=max(1, math.ceil(left))
    )


def _address_limited(left: float) -> RateLimited:
    return RateLimited(
        "Too many failed authentications from this address.", retry_after=max(1, math.ceil(left))
    )


def check_address(ip: str | None) -> None:
    """Raise ``RateLimited`` when this process saw ``ip`` go over its failure limit in the
    current window. Costs no cache call."""
    start, left = _window()
    if _name(f"auth-failures:{ip}", start) in _blocked:
        raise _address_limited(left)


def admit(ip: str | None, key_id: str, limit: int) -> None:
    """Admit an authenticated request of a key allowed ``limit`` a minute, from its lease when
    this process holds one; else take a lease and check the address's failed authentications,
    in one cache round trip. Raise ``RateLimited`` past either limit."""
    start, left = _window()
    key_name = _name(f"key:{key_id}", start)
    with _leases_lock:
        remaining = _leases.get(key_name, 0)
        if remaining > 0:
            _leases[key_name] = remaining - 1
            return
    batch = max(1, int(limit * settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE))
    cache = _cache()
    address_name = _name(f"auth-failures:{ip}", start)
    client = _redis(cache)
    if client is not None:
        count, failures = _script(client, ADMIT)(
            keys=[cache.make_and_validate_key(key_name), cache.make_and_validate_key(address_name)],
            args=[WINDOW + 5, batch],
        )
        failures = int(failures or 0)
    else:
        failures = int(cache.get(address_name) or 0)
        count = _increment(cache, key_name, batch)
    if failures >= settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        _remember(address_name, left)
        raise _address_limited(left)
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
    more than ``QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT`` this minute."""
    cache = _cache()
    start, left = _window()
    name = _name(f"auth-failures:{ip}", start)
    client = _redis(cache)
    if client is not None:
        count = _script(client, COUNT)(keys=[cache.make_and_validate_key(name)], args=[WINDOW + 5])
    else:
        count = _increment(cache, name)
    if count >= settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        _remember(name, left)
    if count > settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT:
        raise _address_limited(left)


def reset() -> None:
    """Forget the addresses this process remembers as over their limit and the leases it holds
    (after clearing the cache, e.g. between tests)."""
    with _blocked_lock:
        _blocked.clear()
    with _leases_lock:
        _leases.clear()


def _remember(name: str, left: float) -> None:
    now = time.monotonic()
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
    if cache.add(name, amount, timeout=WINDOW + 5):
        return amount
    try:
        return int(cache.incr(name, amount))
    except ValueError:  # the window's counter expired between add() and incr()
        cache.add(name, amount, timeout=WINDOW + 5)
        return amount


def _script(client: Any, source: str) -> Any:
    """The registered script (sent by its digest; loaded again if the server lost it)."""
    scripts = client.__dict__.setdefault("_quickscale_scripts", {})
    script = scripts.get(source)
    if script is None:
        script = scripts[source] = client.register_script(source)
    return script


def _redis(cache: BaseCache) -> Any:
    """A client of Django's own Redis cache backend, kept on the backend (one per thread), or
    ``None`` for any other cache."""
    if not isinstance(cache, RedisCache):
        return None
    client = cache.__dict__.get("_quickscale_client")
    if client is None:
        client = cache._cache.get_client(None, write=True)
        cache.__dict__["_quickscale_client"] = client
    return client

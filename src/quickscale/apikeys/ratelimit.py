"""Fixed-window request counters in Django's cache (Redis in production, local memory in the
demo), shared by every process that shares the cache."""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import caches

from quickscale.apikeys.exceptions import RateLimited

WINDOW = 60


def _counter(bucket: str) -> tuple[str, float]:
    now = time.time()
    start = int(now // WINDOW) * WINDOW
    return f"quickscale:rate:{bucket}:{start}", start + WINDOW - now


def hit(bucket: str, limit: int) -> None:
    """Count one request against ``bucket``; raise ``RateLimited`` past ``limit`` a minute."""
    cache = caches[settings.QUICKSCALE_APIKEYS_CACHE]
    key, left = _counter(bucket)
    if cache.add(key, 1, timeout=WINDOW + 5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # the window's counter expired between add() and incr()
            cache.add(key, 1, timeout=WINDOW + 5)
            count = 1
    if count > limit:
        raise RateLimited(
            f"Too many requests: the limit is {limit} a minute.",
            retry_after=max(1, math.ceil(left)),
        )


def check(bucket: str, limit: int) -> None:
    """Raise ``RateLimited`` when ``bucket`` already reached ``limit`` this minute, without
    counting."""
    cache = caches[settings.QUICKSCALE_APIKEYS_CACHE]
    key, left = _counter(bucket)
    if (cache.get(key) or 0) >= limit:
        raise RateLimited(
            "Too many failed authentications from this address.",
            retry_after=max(1, math.ceil(left)),
        )

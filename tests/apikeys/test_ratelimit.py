"""Rate limits on Django's Redis cache and on local memory, through the cache's public methods
(``get``/``incr``/``add``). The counters are shared by every process using the cache."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import Client

from quickscale.apikeys import ratelimit
from quickscale.apikeys.exceptions import RateLimited
from quickscale.apikeys.keys import create_key

URL = "/api/host/ping/"

BACKENDS = {
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("REDIS_URL", ""),
    },
}


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.redis)])
def rate_cache(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """A cache of the given kind with a prefix of its own, set as the rate-limit cache."""
    settings.CACHES = {
        **settings.CACHES,
        "rates": {**BACKENDS[request.param], "KEY_PREFIX": f"qs-test-{uuid.uuid4().hex}"},
    }
    settings.QUICKSCALE_APIKEYS_CACHE = "rates"
    yield request.param
    if request.param == "locmem":
        caches["rates"].clear()  # (Redis's would flush the whole database; its keys expire)


def test_a_key_is_limited_to_its_requests_a_minute(rate_cache: str) -> None:
    for _ in range(3):
        ratelimit.admit("192.0.2.1", "k1", 3)

    with pytest.raises(RateLimited) as raised:
        ratelimit.admit("192.0.2.1", "k1", 3)

    assert 1 <= raised.value.retry_after <= 60
    ratelimit.admit("192.0.2.1", "k2", 3)  # another key has its own count


def test_the_counter_is_kept_in_the_cache_for_every_process(rate_cache: str) -> None:
    ratelimit.admit("192.0.2.1", "k1", 10)
    ratelimit.admit("192.0.2.1", "k1", 10)

    start, _ = ratelimit._window()
    assert caches["rates"].get(f"quickscale:rate:key:k1:{start}") == 2


def test_failed_authentications_block_the_address_past_the_limit(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 2
    ratelimit.fail("192.0.2.7")
    ratelimit.fail("192.0.2.7")

    with pytest.raises(RateLimited):
        ratelimit.check_address("192.0.2.7")  # remembered in this process: no cache call
    with pytest.raises(RateLimited):
        ratelimit.admit("192.0.2.7", "k1", 100)  # even with a good key
    ratelimit.admit("192.0.2.8", "k1", 100)  # other addresses are not affected


def test_another_process_sees_the_blocked_address_through_the_cache(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 2
    ratelimit.fail("192.0.2.9")
    ratelimit.fail("192.0.2.9")
    ratelimit.reset()  # a process that never saw those failures

    ratelimit.check_address("192.0.2.9")  # it does not know yet...
    with pytest.raises(RateLimited):
        ratelimit.admit("192.0.2.9", "k1", 100)  # ...but the shared count says no
    with pytest.raises(RateLimited):
        ratelimit.fail("192.0.2.9")  # and one more failure is a 429, not a 401


def test_a_request_from_a_blocked_address_does_not_count_against_its_key(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 1
    ratelimit.fail("192.0.2.9")
    ratelimit.reset()  # a process that never saw that failure

    with pytest.raises(RateLimited):
        ratelimit.admit("192.0.2.9", "k1", 100)

    start, _ = ratelimit._window()
    assert caches["rates"].get(f"quickscale:rate:key:k1:{start}") is None


def test_a_key_past_its_limit_gets_429_through_the_middleware(rate_cache: str, user: Any) -> None:
    _, token = create_key(user, "limited", scopes=["ping:read"], rate_limit=2)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    statuses = [client.get(URL).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]


def test_a_lease_admits_a_share_of_the_limit_with_one_cache_call(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE = 0.1
    start, _ = ratelimit._window()
    counter = f"quickscale:rate:key:k1:{start}"

    ratelimit.admit("192.0.2.1", "k1", 100)
    assert caches["rates"].get(counter) == 10  # a lease of 10: this request and 9 more

    caches["rates"].set(counter, 999)  # were the cache asked again, it would refuse
    for _ in range(9):
        ratelimit.admit("192.0.2.1", "k1", 100)
    with pytest.raises(RateLimited):
        ratelimit.admit("192.0.2.1", "k1", 100)  # the lease is used up: the shared count says no


def test_processes_sharing_a_key_never_admit_more_than_its_limit(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE = 0.2  # leases of 5 out of 23
    admitted = 0
    refused = 0
    # Three processes take turns: each keeps its own leases (swapped in and out here).
    leases: list[dict[str, int]] = [{}, {}, {}]
    for turn in range(60):
        process = turn % 3
        ratelimit._leases.clear()
        ratelimit._leases.update(leases[process])
        try:
            ratelimit.admit("192.0.2.1", "shared", 23)
            admitted += 1
        except RateLimited:
            refused += 1
        leases[process] = dict(ratelimit._leases)

    assert admitted == 23  # the turns spread evenly, so no process is left holding counts
    assert refused == 37


def test_a_lease_holder_leaves_the_others_at_most_its_unused_counts_short(
    rate_cache: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE = 0.2
    ratelimit.admit("192.0.2.1", "held", 20)  # process A leases 4 and uses 1
    ratelimit.reset()  # process B
    admitted = 0
    for _ in range(30):
        try:
            ratelimit.admit("192.0.2.1", "held", 20)
            admitted += 1
        except RateLimited:
            break

    assert admitted == 16  # 20 less the 4 A leased (1 used, 3 unused)


def test_with_no_lease_every_request_is_counted(rate_cache: str, settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE = 0
    ratelimit.admit("192.0.2.1", "k1", 1000)
    ratelimit.admit("192.0.2.1", "k1", 1000)

    start, _ = ratelimit._window()
    assert caches["rates"].get(f"quickscale:rate:key:k1:{start}") == 2

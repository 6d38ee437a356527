"""With the rate limits' cache out of reach, requests are served uncounted (fail open, the
default) or refused with a JSON 503 (fail closed); never a 500.

The cache is a real Redis cache at a port nothing listens on, so every call fails to connect,
as it does when the server is down.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client

from quickscale.apikeys import ratelimit
from quickscale.apikeys.keys import create_key

PING = "/api/host/ping/"
BALANCE = "/api/v1/credits/balance"
BAD_KEY = "Bearer qs_live_nope"


@pytest.fixture(autouse=True)
def cache_down(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.QUICKSCALE_APIKEYS_CACHE = "down"


@pytest.fixture
def fail_closed(settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = False


@pytest.fixture
def token(user: Any) -> str:
    return create_key(user, "test", scopes=["ping:read", "credits:read"])[1]


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == str(ratelimit.UNAVAILABLE_RETRY_AFTER)
    assert response["Cache-Control"] == "no-store"
    error = response.json()["error"]
    assert error["code"] == "rate_limit_unavailable"
    assert error["details"] == {"retry_after": ratelimit.UNAVAILABLE_RETRY_AFTER}


# -- fail open (the default) -------------------------------------------------------------------


@pytest.mark.parametrize("path", [PING, BALANCE])
def test_failing_open_a_good_key_under_its_limit_is_served(token: str, path: str) -> None:
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(path)

    assert response.status_code == 200, response.content


def test_failing_open_a_key_is_served_past_its_limit_while_nothing_can_count(user: Any) -> None:
    _, token = create_key(user, "limited", scopes=["ping:read"], rate_limit=2)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    statuses = [client.get(PING).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 200]


@pytest.mark.parametrize("path", [PING, BALANCE])
def test_failing_open_a_bad_key_is_still_a_401(db: None, path: str) -> None:
    response = Client(HTTP_AUTHORIZATION=BAD_KEY).get(path)

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "authentication_failed"


# -- fail closed -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PING, BALANCE])
def test_failing_closed_a_good_key_is_a_json_503_with_retry_after(
    fail_closed: None, token: str, path: str
) -> None:
    assert_unavailable(Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(path))


@pytest.mark.parametrize("path", [PING, BALANCE])
def test_failing_closed_a_bad_key_is_a_json_503_too(fail_closed: None, db: None, path: str) -> None:
    assert_unavailable(Client(HTTP_AUTHORIZATION=BAD_KEY).get(path))


def test_the_setting_is_read_at_each_request(token: str, settings: Any) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(PING).status_code == 200

    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = False

    assert_unavailable(client.get(PING))


# -- the warning -------------------------------------------------------------------------------


def test_an_unreachable_cache_is_logged_as_a_warning_once_a_minute_at_most(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    bad = Client(HTTP_AUTHORIZATION=BAD_KEY)

    with caplog.at_level(logging.WARNING, logger="quickscale.apikeys.ratelimit"):
        for _ in range(5):
            good.get(PING)
            bad.get(PING)

    warnings = [r for r in caplog.records if r.name == "quickscale.apikeys.ratelimit"]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    message = warnings[0].getMessage()
    assert "'down'" in message and "ConnectionError" in message
    assert "served without being counted" in message


def test_the_next_warning_says_how_many_failures_went_unlogged(
    token: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(ratelimit, "_monotonic", lambda: now[0])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    with caplog.at_level(logging.WARNING, logger="quickscale.apikeys.ratelimit"):
        for _ in range(4):
            client.get(PING)
        now[0] += ratelimit.WARNING_INTERVAL
        client.get(PING)

    warnings = [r.getMessage() for r in caplog.records if r.name == "quickscale.apikeys.ratelimit"]
    assert len(warnings) == 2
    assert "3 more" in warnings[1]

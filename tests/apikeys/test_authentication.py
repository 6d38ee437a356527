"""``aauthenticate_request``, the async form of ``authenticate_request`` for code of one's own:
the key, ``None`` without one, the key errors for a bad key, and one check per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.http import HttpRequest
from django.test import AsyncRequestFactory

from quickscale.apikeys.authentication import aauthenticate_request
from quickscale.apikeys.exceptions import AuthenticationFailed, RateLimited
from quickscale.apikeys.keys import create_key


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def request(**headers: str) -> HttpRequest:
    """An ASGI request to a path outside the middleware's prefixes, with ``headers``."""
    return AsyncRequestFactory().get("/report/", headers=headers)


def authenticate(req: HttpRequest) -> Any:
    """``aauthenticate_request`` awaited in an event loop."""

    async def run() -> Any:
        return await aauthenticate_request(req)

    return async_to_sync(run)()


def test_a_valid_key_is_returned_and_sets_the_request_attributes(user: Any) -> None:
    key, token = create_key(user, "script", scopes=["reports:read"])
    req = request(Authorization=f"Bearer {token}")

    found = authenticate(req)

    assert found == key
    assert req.auth == key  # type: ignore[attr-defined]
    assert req.user == user
    assert async_to_sync(req.auser)() == user
    assert req._dont_enforce_csrf_checks is True  # type: ignore[attr-defined]
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_the_x_api_key_header_works_too(user: Any) -> None:
    key, token = create_key(user, "script", scopes=["reports:read"])

    assert authenticate(request(**{"X-API-Key": token})) == key


def test_a_bad_key_raises_authentication_failed_and_counts_against_the_address(
    user: Any, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 2
    _, token = create_key(user, "script", scopes=["reports:read"])

    with pytest.raises(AuthenticationFailed, match="malformed"):
        authenticate(request(Authorization="Bearer qs_live_nope"))
    with pytest.raises(AuthenticationFailed):
        authenticate(request(Authorization="Bearer qs_live_nope"))

    # The address is over its limit now: even a good key is refused.
    with pytest.raises(RateLimited, match="failed authentications"):
        authenticate(request(Authorization=f"Bearer {token}"))


def test_no_key_is_none(db: None) -> None:
    req = request()

    assert authenticate(req) is None
    assert req.auth is None  # type: ignore[attr-defined]


def test_a_request_authenticated_already_is_not_counted_twice(user: Any) -> None:
    key, token = create_key(user, "script", scopes=["reports:read"], rate_limit=2)
    first = request(Authorization=f"Bearer {token}")

    assert authenticate(first) == key
    assert authenticate(first) == key  # the same request again: no second count

    assert authenticate(request(Authorization=f"Bearer {token}")) == key  # the limit's second
    with pytest.raises(RateLimited):  # the third request over the limit of 2
        authenticate(request(Authorization=f"Bearer {token}"))

"""The middleware: who a key-authenticated request is, CSRF, rate limits and client addresses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client, RequestFactory

from quickscale.apikeys.keys import create_key
from quickscale.core.http import client_ip

URL = "/api/host/ping/"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def token(user: Any) -> str:
    return create_key(user, "test", scopes=["ping:read"])[1]


def test_a_bearer_key_authenticates_the_request_as_its_owner(
    client: Client, token: str, user: Any
) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["user"] == user.get_username()


def test_the_x_api_key_header_works_too(client: Client, token: str) -> None:
    assert client.get(URL, HTTP_X_API_KEY=token).status_code == 200


def test_a_bad_key_is_a_401_with_the_error_shape(client: Client, db: None) -> None:
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer qs_live_nope")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response["Cache-Control"] == "no-store"
    assert response.json()["error"]["code"] == "authentication_failed"


def test_no_key_is_a_401_from_the_view(client: Client, db: None) -> None:
    response = client.get(URL)

    assert response.status_code == 401
    assert "needs an API key" in response.json()["error"]["message"]


def test_a_missing_scope_is_a_403_naming_it(client: Client, user: Any) -> None:
    _, other = create_key(user, "narrow", scopes=["credits:read"])

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {other}")

    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"missing_scopes": ["ping:read"]}


def test_a_key_authenticated_post_needs_no_csrf_token(token: str) -> None:
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["method"] == "POST"


@pytest.mark.urls("tests.apikeys.urls_anywhere")
def test_a_session_post_without_a_key_still_needs_its_csrf_token(user: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)

    response = strict.post("/api/host/session-post/")  # a view of the host's, under /api/

    assert response.status_code == 403
    assert b"CSRF" in response.content


def test_paths_outside_the_api_are_left_alone(client: Client, db: None) -> None:
    response = client.get("/admin/login/", HTTP_AUTHORIZATION="Bearer not-a-key")

    assert response.status_code == 200  # no key check outside QUICKSCALE_APIKEYS_PATH_PREFIXES


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(client: Client, user: Any) -> None:
    _, token = create_key(user, "slow", scopes=["ping:read"], rate_limit=2)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    statuses = [client.get(URL, **headers).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = client.get(URL, **headers)
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"


def test_failed_authentications_from_one_address_are_limited(
    client: Client, token: str, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 3
    for _ in range(3):
        assert client.get(URL, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401

    blocked = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert blocked.status_code == 429
    assert "Retry-After" in blocked
    other = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="192.0.2.50")
    assert other.status_code == 200


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Any) -> None:
    settings.QUICKSCALE_CORE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_ip(request) == "198.51.100.20"


def test_a_trusted_proxy_passes_on_the_client_address(settings: Any) -> None:
    settings.QUICKSCALE_CORE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7, 10.0.0.9"
    )

    assert client_ip(request) == "203.0.113.7"


def test_a_malformed_forwarded_chain_falls_back_to_the_peer(settings: Any) -> None:
    settings.QUICKSCALE_CORE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="junk")

    assert client_ip(request) == "10.0.0.5"


def test_async_views_see_the_key_owner_too(user: Any, token: str) -> None:
    import asyncio

    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse

    from quickscale.apikeys.middleware import APIKeyAuthenticationMiddleware

    seen: dict[str, Any] = {}

    def view(request: Any) -> HttpResponse:
        seen["user"] = request.user
        seen["auser"] = asyncio.run(request.auser())
        return HttpResponse()

    chain = SessionMiddleware(AuthenticationMiddleware(APIKeyAuthenticationMiddleware(view)))
    chain(RequestFactory().get("/api/x", HTTP_AUTHORIZATION=f"Bearer {token}"))

    assert seen["user"] == user
    assert seen["auser"] == user


# -- async mode ----------------------------------------------------------------------------------


def _middleware(view: Any) -> Any:
    from quickscale.apikeys.middleware import APIKeyAuthenticationMiddleware

    return APIKeyAuthenticationMiddleware(view)


def test_the_middleware_runs_in_the_mode_of_the_handler_it_wraps() -> None:
    from asgiref.sync import iscoroutinefunction

    from quickscale.apikeys.middleware import APIKeyAuthenticationMiddleware

    async def async_view(request: Any) -> Any: ...

    def sync_view(request: Any) -> Any: ...

    assert APIKeyAuthenticationMiddleware.sync_capable is True
    assert APIKeyAuthenticationMiddleware.async_capable is True
    assert iscoroutinefunction(_middleware(async_view))
    assert not iscoroutinefunction(_middleware(sync_view))


def test_in_async_mode_a_key_authenticates_the_request_as_its_owner(user: Any, token: str) -> None:
    from asgiref.sync import async_to_sync
    from django.http import HttpResponse

    seen: dict[str, Any] = {}

    async def view(request: Any) -> HttpResponse:
        seen["user"] = request.user
        seen["auser"] = await request.auser()
        seen["key"] = request.auth
        return HttpResponse("served")

    request = RequestFactory().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    response = async_to_sync(_middleware(view))(request)

    assert response.content == b"served"
    assert seen["user"] == user
    assert seen["auser"] == user
    assert seen["key"].owner == user
    assert request._dont_enforce_csrf_checks is True


def test_in_async_mode_a_bad_key_is_refused_before_the_view(db: None) -> None:
    from asgiref.sync import async_to_sync

    async def view(request: Any) -> Any:
        raise AssertionError("the view must not run")

    request = RequestFactory().get(URL, HTTP_AUTHORIZATION="Bearer qs_live_nope")
    response = async_to_sync(_middleware(view))(request)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(response.content)["error"]["code"] == "authentication_failed"


def test_in_async_mode_paths_outside_the_prefixes_are_left_alone(db: None) -> None:
    from asgiref.sync import async_to_sync
    from django.http import HttpResponse

    async def view(request: Any) -> HttpResponse:
        return HttpResponse(repr(request.auth))

    request = RequestFactory().get("/report/", HTTP_AUTHORIZATION="Bearer qs_live_nope")
    response = async_to_sync(_middleware(view))(request)

    assert response.status_code == 200
    assert response.content == b"None"


def test_through_the_async_client_a_key_authenticates_the_request(token: str, user: Any) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    response = async_to_sync(AsyncClient().get)(URL, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json()["user"] == user.get_username()


def test_through_the_async_client_bad_and_missing_keys_are_401(db: None) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    bad = async_to_sync(client.get)(URL, headers={"Authorization": "Bearer qs_live_nope"})
    missing = async_to_sync(client.get)(URL)

    assert bad.status_code == 401
    assert bad.json()["error"]["message"] == "The API key is malformed."
    assert missing.status_code == 401
    assert "needs an API key" in missing.json()["error"]["message"]


def test_through_the_async_client_a_request_is_counted_once(user: Any) -> None:
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    _, token = create_key(user, "slow", scopes=["ping:read"], rate_limit=2)
    client = AsyncClient()

    statuses = [
        async_to_sync(client.get)(URL, headers={"Authorization": f"Bearer {token}"}).status_code
        for _ in range(3)
    ]

    assert statuses == [200, 200, 429]  # the middleware and require_scopes count it once

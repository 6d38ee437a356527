"""``require_scopes`` on a view outside ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` and without the
middleware: it authenticates the key itself, with the middleware's errors, rate limits and
request attributes, on sync views (``Client``) and async ones (``AsyncClient``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient, Client

from quickscale.apikeys import tokens
from quickscale.apikeys.keys import create_key, revoke_key

pytestmark = pytest.mark.urls("tests.apikeys.urls_anywhere")

KEY_MIDDLEWARE = "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware"
#: (client, path): the sync view through the sync client, the async views through the async one.
VIEWS = [
    pytest.param(("sync", "/report/"), id="sync"),
    pytest.param(("async", "/async-report/"), id="async"),
    pytest.param(("async", "/marked-report/"), id="marked-coroutine"),
    pytest.param(("sync", "/class-report/"), id="class-based-dispatch"),
]

Request = Callable[..., Any]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(params=["no-middleware", "outside-prefixes"])
def middleware(request: pytest.FixtureRequest, settings: Any) -> str:
    """Without the key middleware, and with it but for paths it does not cover."""
    if request.param == "no-middleware":
        settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != KEY_MIDDLEWARE]
    else:
        assert KEY_MIDDLEWARE in settings.MIDDLEWARE
        assert settings.QUICKSCALE_APIKEYS_PATH_PREFIXES == ["/api/"]
    return str(request.param)


def make_call(kind: str, path: str, *, enforce_csrf_checks: bool = False) -> Request:
    """A function that sends a request to ``path`` with the client of ``kind``."""
    if kind == "sync":
        client = Client(enforce_csrf_checks=enforce_csrf_checks)

        def call(method: str = "get", **headers: str) -> Any:
            return getattr(client, method)(path, headers=headers)

        return call
    async_client = AsyncClient(enforce_csrf_checks=enforce_csrf_checks)

    def acall(method: str = "get", **headers: str) -> Any:
        return async_to_sync(getattr(async_client, method))(path, headers=headers)

    return acall


@pytest.fixture(params=VIEWS)
def call(request: pytest.FixtureRequest, middleware: str) -> Request:
    kind, path = request.param
    return make_call(kind, path)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_key_is_accepted_and_sets_the_request_attributes(call: Request, user: Any) -> None:
    key, token = create_key(user, "report", scopes=["reports:read"])

    response = call(**bearer(token))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"] == user.get_username()
    assert body["key"] == key.key_id
    assert body["auser"] == user.get_username()
    key.refresh_from_db()
    assert key.last_used_at is not None  # the same verification records the use


def test_the_x_api_key_header_works_too(call: Request, user: Any) -> None:
    _, token = create_key(user, "report", scopes=["reports:write"])  # write implies read

    assert call(**{"X-API-Key": token}).status_code == 200


def test_no_key_is_a_401_asking_for_one(call: Request, db: None) -> None:
    response = call()

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response["Cache-Control"] == "no-store"
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert "needs an API key" in error["message"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("qs_live_nope", "malformed"),
        (str(tokens.new_token("qs", "live")), "not valid"),  # well formed, no such key
    ],
)
def test_a_bad_key_is_a_401_saying_why(call: Request, db: None, token: str, message: str) -> None:
    response = call(**bearer(token))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == "authentication_failed"
    assert message in error["message"]


def test_a_revoked_key_is_a_401(call: Request, user: Any) -> None:
    key, token = create_key(user, "report", scopes=["reports:read"])
    revoke_key(key)

    response = call(**bearer(token))

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The API key was revoked."


def test_a_key_without_the_scope_is_a_403_naming_it(call: Request, user: Any) -> None:
    _, token = create_key(user, "narrow", scopes=["credits:read"])

    response = call(**bearer(token))

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["details"] == {"missing_scopes": ["reports:read"]}


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(call: Request, user: Any) -> None:
    _, token = create_key(user, "slow", scopes=["reports:read"], rate_limit=2)

    statuses = [call(**bearer(token)).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = call(**bearer(token))
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["error"]["code"] == "rate_limited"


def test_failed_authentications_from_one_address_are_limited(
    call: Request, user: Any, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 3
    _, token = create_key(user, "report", scopes=["reports:read"])
    for _ in range(3):
        assert call(**bearer("wrong")).status_code == 401

    blocked = call(**bearer(token))

    assert blocked.status_code == 429
    assert "Retry-After" in blocked
    assert blocked.json()["error"]["message"] == (
        "Too many failed authentications from this address."
    )


@pytest.mark.parametrize(
    ("kind", "path"),
    [("sync", "/report/"), ("async", "/async-report/"), ("sync", "/class-report/")],
)
def test_a_key_authenticated_post_needs_no_csrf_token(
    middleware: str, user: Any, kind: str, path: str
) -> None:
    _, token = create_key(user, "report", scopes=["reports:read"])
    call = make_call(kind, path, enforce_csrf_checks=True)

    response = call("post", **bearer(token))

    assert response.status_code == 200, response.content
    assert response.json()["method"] == "POST"


@pytest.mark.parametrize(("kind", "path"), [("sync", "/report/"), ("async", "/async-report/")])
def test_a_signed_in_session_without_a_key_is_still_refused(
    middleware: str, user: Any, kind: str, path: str
) -> None:
    client: Any = Client() if kind == "sync" else AsyncClient()
    client.force_login(user)

    response = client.get(path) if kind == "sync" else async_to_sync(client.get)(path)

    assert response.status_code == 401

"""Who may call what: keys, scopes, rate limits, CSRF, and headers every response carries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings

from quickscale.api import urls
from quickscale.api.views import csrf_failure
from quickscale.apikeys.keys import revoke_key
from quickscale.apikeys.scopes import SCOPES
from tests.api.conftest import API, assert_error

#: Every key-protected endpoint: method, path and the scope it needs.
ENDPOINTS = [
    ("GET", "/api/v1/credits/balance", "credits:read"),
    ("GET", "/api/v1/credits/transactions", "credits:read"),
    ("GET", "/api/v1/services", "services:read"),
    ("POST", "/api/v1/services/echo/runs", "services:write"),
    ("GET", "/api/v1/runs", "runs:read"),
    ("GET", "/api/v1/runs/1", "runs:read"),
    ("GET", "/api/v1/usage", "usage:read"),
]


def call(api: API, method: str, path: str) -> Any:
    if method == "POST":
        return api.post(path, {"input": {"text": "hi"}})
    return api.get(path)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_refuses_a_request_without_a_key_with_401(
    client: Client, db: None, method: str, path: str, scope: str
) -> None:
    response = call(API(client, None), method, path)

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_endpoint_refuses_a_key_without_its_scope_with_403_naming_it(
    make_api: Callable[..., API], user: Any, method: str, path: str, scope: str
) -> None:
    others = [other for other in SCOPES if other.split(":")[0] != scope.split(":")[0]]
    response = call(make_api(user, scopes=others), method, path)

    error = assert_error(response, 403, "permission_denied")
    assert error["details"] == {"missing_scopes": [scope]}


def test_every_scope_the_api_checks_is_one_the_keys_page_offers() -> None:
    checked = {
        pattern.callback.operation.scope
        for pattern in urls.urlpatterns
        if getattr(pattern.callback, "operation", None) is not None
    }

    assert checked - {None} == set(SCOPES)


def test_a_write_scope_grants_the_read_scope(make_api: Callable[..., API], user: Any) -> None:
    api = make_api(user, scopes=["credits:write"])

    assert api.get("/api/v1/credits/balance").status_code == 200


def test_a_bad_key_is_refused_with_401(client: Client, db: None) -> None:
    response = API(client, "qs_live_notakey").get("/api/v1/credits/balance")

    assert_error(response, 401, "authentication_failed")


def test_a_revoked_key_is_refused_with_401(make_api: Callable[..., API], user: Any) -> None:
    api = make_api(user)
    for key in user.api_keys.all():
        revoke_key(key)

    assert_error(api.get("/api/v1/credits/balance"), 401, "authentication_failed")


def test_the_key_may_come_in_the_x_api_key_header(make_api: Callable[..., API], user: Any) -> None:
    api = make_api(user)
    response = api.client.get("/api/v1/credits/balance", headers={"X-API-Key": api.token})

    assert response.status_code == 200


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(
    make_api: Callable[..., API], user: Any
) -> None:
    api = make_api(user, rate_limit=2)
    assert api.get("/api/v1/credits/balance").status_code == 200
    assert api.get("/api/v1/credits/balance").status_code == 200

    response = api.get("/api/v1/credits/balance")

    error = assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert error["details"]["retry_after"] == int(response["Retry-After"])


def test_a_browser_session_without_a_key_gets_401_not_its_users_data(
    client: Client, funded: Any
) -> None:
    client.force_login(funded)

    assert_error(client.get("/api/v1/credits/balance"), 401, "authentication_failed")


def test_a_browser_session_cannot_post_a_run_without_a_key(funded: Any) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(funded)

    response = browser.post(
        "/api/v1/services/echo/runs", {"input": {"text": "hi"}}, content_type="application/json"
    )

    assert_error(response, 401, "authentication_failed")  # the session is no credential
    assert not funded.service_runs.exists()


@override_settings(CSRF_FAILURE_VIEW="quickscale.api.views.csrf_failure")
def test_the_api_csrf_failure_view_answers_in_the_error_shape(rf: RequestFactory) -> None:
    # API views are exempt from CSRF; a host's own view under the API's prefix may not be.
    response = csrf_failure(rf.post("/api/v1/host-view"), "CSRF cookie not set.")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "csrf_failed"
    assert response["Cache-Control"] == "no-store"


@override_settings(CSRF_FAILURE_VIEW="quickscale.api.views.csrf_failure")
def test_the_api_csrf_failure_view_leaves_other_pages_to_django(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


def test_a_key_needs_no_csrf_token_to_post(make_api: Callable[..., API], funded: Any) -> None:
    api = make_api(funded)
    api.client = Client(enforce_csrf_checks=True)

    assert api.run("echo", {"text": "hi"}).status_code == 201


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
def test_every_response_is_marked_no_store(api: API, method: str, path: str, scope: str) -> None:
    assert call(api, method, path)["Cache-Control"] == "no-store"
    assert call(API(api.client, None), method, path)["Cache-Control"] == "no-store"

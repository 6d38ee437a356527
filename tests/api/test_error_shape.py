"""Every error answered under ``/api/`` is the JSON error shape, whatever answered it: the view,
the URL resolver, CSRF, the body limits or a middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client, override_settings

from tests.api.conftest import API, assert_error

RUN = "/api/v1/services/echo/runs"


@pytest.fixture
def csrf_client() -> Client:
    """A client that enforces CSRF as a browser's requests meet it."""
    return Client(enforce_csrf_checks=True)


def test_a_post_without_a_key_gets_the_json_401_not_the_csrf_page(
    csrf_client: Client, funded: Any
) -> None:
    response = csrf_client.post(RUN, {"input": {"text": "hi"}}, content_type="application/json")

    assert_error(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert not funded.service_runs.exists()


def test_a_browser_session_is_no_credential_for_a_post(csrf_client: Client, funded: Any) -> None:
    csrf_client.force_login(funded)

    response = csrf_client.post(RUN, {"input": {"text": "hi"}}, content_type="application/json")

    assert_error(response, 401, "authentication_failed")
    assert not funded.service_runs.exists()


@pytest.mark.parametrize("path", ["/api/v1/nothing/here", "/api/v1/", "/api/v1", "/api/"])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_address_of_the_api_is_a_json_404(
    csrf_client: Client, db: None, path: str, method: str
) -> None:
    response = getattr(csrf_client, method)(path)

    assert_error(response, 404, "not_found")
    assert response["Cache-Control"] == "no-store"


@pytest.mark.urls("tests.api.handler404.urls")
@pytest.mark.parametrize("path", ["/api/nothing", "/api/v2/runs"])
def test_with_the_apis_handler404_any_unknown_address_under_the_prefix_is_a_json_404(
    csrf_client: Client, db: None, path: str
) -> None:
    response = csrf_client.post(path)

    assert_error(response, 404, "not_found")


@pytest.mark.urls("tests.api.handler404.urls")
def test_the_apis_handler404_leaves_other_pages_to_django(client: Client, db: None) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("delete", "/api/v1/credits/balance", "GET"),
        ("post", "/api/v1/openapi.json", "GET"),
        ("put", RUN, "POST"),
        ("get", RUN, "POST"),
    ],
)
def test_another_method_is_a_json_405_with_allow(
    csrf_client: Client, db: None, method: str, path: str, allow: str
) -> None:
    response = getattr(csrf_client, method)(path)

    error = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allow
    assert error["details"] == {"allowed": [allow]}


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_a_body_over_the_limit_is_a_json_413(api: API, funded: Any) -> None:
    api.client = Client(enforce_csrf_checks=True)

    response = api.post(RUN, {"input": {"text": "x" * 200}})

    error = assert_error(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": 100}
    assert not funded.service_runs.exists()


def test_a_huge_body_is_a_json_413(api: API, funded: Any) -> None:
    response = api.post(RUN, b'{"input": {"text": "' + b"x" * (3 * 2**20) + b'"}}')

    assert_error(response, 413, "payload_too_large")
    assert not funded.service_runs.exists()


def test_a_body_that_is_not_json_is_a_json_415(api: API, funded: Any) -> None:
    response = api.post(RUN, "text=hi", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")
    assert not funded.service_runs.exists()


def test_a_rate_limit_is_a_json_429(make_api: Callable[..., API], user: Any) -> None:
    api = make_api(user, rate_limit=1)
    api.client = Client(enforce_csrf_checks=True)
    assert api.post(RUN, {"input": {"text": "hi"}}).status_code == 402  # no credits

    response = api.post(RUN, {"input": {"text": "hi"}})

    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


def test_a_database_that_cannot_be_reached_is_a_json_503(
    api: API, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unreachable(user: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr("quickscale.api.serializers.balance", unreachable)
    monkeypatch.setattr(
        "quickscale.core.middleware.database_unreachable",
        lambda error: isinstance(error, OperationalError),
    )

    with caplog.at_level(logging.CRITICAL):
        response = api.get("/api/v1/credits/balance")

    assert_error(response, 503, "database_unavailable")
    assert int(response["Retry-After"]) >= 1

"""The Django REST framework and django-ninja adapters: the same keys, scopes, errors and rate
limits as the middleware and ``require_scopes``, through one code path (a key's requests are
counted together whichever of them serves it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.http import HttpRequest
from django.test import AsyncClient, Client, RequestFactory
from ninja import NinjaAPI
from ninja.testing import TestClient

from quickscale.apikeys import ratelimit
from quickscale.apikeys.contrib.ninja import APIKeyAuth, APIKeyHeaderAuth
from quickscale.apikeys.keys import create_key, revoke_key
from tests.apikeys.urls_adapters import DRFReport
from tests.apikeys.urls_adapters import api as ninja_api

pytestmark = pytest.mark.urls("tests.apikeys.urls_adapters")

Call = Callable[..., Any]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def caller(path: str, *, asynchronous: bool = False) -> Call:
    client: Any = AsyncClient() if asynchronous else Client()

    def call(**headers: str) -> Any:
        get = async_to_sync(client.get) if asynchronous else client.get
        return get(path, headers=headers)

    return call


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def message_and_code(response: Any) -> tuple[str, str]:
    """The error's message and code: in ninja's shape, or in quickscale's where the middleware
    refused the request before the view (under ``QUICKSCALE_APIKEYS_PATH_PREFIXES``)."""
    body = response.json()
    if "error" in body:
        return body["error"]["message"], body["error"]["code"]
    return body["detail"], body["code"]


# -- Django REST framework -------------------------------------------------------------------

DRF = [
    pytest.param("/drf/report/", id="class-view"),
    pytest.param("/drf/function-report/", id="function-view"),
]


@pytest.fixture(params=DRF)
def drf(request: pytest.FixtureRequest) -> Call:
    return caller(request.param)


def test_drf_authenticates_a_key_with_the_scope(drf: Call, user: Any) -> None:
    key, token = create_key(user, "drf", scopes=["reports:read"])

    response = drf(**bearer(token))

    assert response.status_code == 200, response.content
    assert response.json()["user"] == user.get_username()
    assert response.json()["key"] == key.key_id


def test_drf_sets_the_django_request_attributes_too(user: Any) -> None:
    _, token = create_key(user, "drf", scopes=["reports:read"], allowed_ips=["192.0.2.0/24"])
    request = RequestFactory().get("/drf/report/", HTTP_X_API_KEY=token, REMOTE_ADDR="192.0.2.7")

    response = DRFReport.as_view()(request)

    assert response.status_code == 200
    assert response.data["django_user"] == user.get_username()
    assert request.auth.owner == user  # type: ignore[attr-defined]


def test_drf_refuses_a_bad_key_with_401_and_the_reason(drf: Call, db: None) -> None:
    response = drf(**bearer("qs_live_bad"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "The API key is malformed."}


def test_drf_refuses_a_revoked_key(drf: Call, user: Any) -> None:
    key, token = create_key(user, "drf", scopes=["reports:read"])
    revoke_key(key)

    response = drf(**bearer(token))

    assert response.status_code == 401
    assert response.json() == {"detail": "The API key was revoked."}


def test_drf_refuses_a_request_without_a_key_with_401(drf: Call, db: None) -> None:
    response = drf()

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_drf_refuses_a_key_without_the_scope_with_403_naming_it(drf: Call, user: Any) -> None:
    _, token = create_key(user, "drf", scopes=["credits:read"])

    response = drf(**bearer(token))

    assert response.status_code == 403
    assert response.json() == {"detail": "The API key lacks the scope reports:read."}


def test_drf_applies_the_key_rate_limit(drf: Call, user: Any) -> None:
    _, token = create_key(user, "drf", scopes=["reports:read"], rate_limit=2)

    responses = [drf(**bearer(token)) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 1 <= int(responses[-1]["Retry-After"]) <= 60
    assert "Too many requests: the limit is 2 a minute." in responses[-1].json()["detail"]


def test_drf_applies_the_failed_authentication_limit(drf: Call, user: Any, settings: Any) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 3
    _, token = create_key(user, "drf", scopes=["reports:read"])
    assert [drf(**bearer("wrong")).status_code for _ in range(3)] == [401, 401, 401]

    blocked = drf(**bearer(token))

    assert blocked.status_code == 429
    assert "Retry-After" in blocked


def test_drf_under_the_middleware_counts_a_request_once(user: Any) -> None:
    _, token = create_key(user, "drf", scopes=["reports:read"], rate_limit=2)
    call = caller("/api/host/drf-report/")

    assert [call(**bearer(token)).status_code for _ in range(3)] == [200, 200, 429]


# -- django-ninja ---------------------------------------------------------------------------

NINJA = [
    pytest.param(("/ninja/report", False), id="sync-outside-prefixes"),
    pytest.param(("/ninja/async-report", True), id="async-outside-prefixes"),
    pytest.param(("/api/host/ninja/report", False), id="sync-under-middleware"),
    pytest.param(("/api/host/ninja/async-report", True), id="async-under-middleware"),
]


@pytest.fixture(params=NINJA)
def ninja(request: pytest.FixtureRequest) -> Call:
    path, asynchronous = request.param
    return caller(path, asynchronous=asynchronous)


def test_ninja_authenticates_a_key_with_the_scope(ninja: Call, user: Any) -> None:
    key, token = create_key(user, "ninja", scopes=["reports:write"])  # write implies read

    response = ninja(**bearer(token))

    assert response.status_code == 200, response.content
    assert response.json() == {"user": user.get_username(), "key": key.key_id}


def test_ninja_accepts_the_x_api_key_header(ninja: Call, user: Any) -> None:
    _, token = create_key(user, "ninja", scopes=["reports:read"])

    assert ninja(**{"X-API-Key": token}).status_code == 200


def test_ninja_refuses_a_bad_key_with_401_and_the_reason(ninja: Call, db: None) -> None:
    response = ninja(**bearer("qs_live_bad"))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert message_and_code(response) == ("The API key is malformed.", "authentication_failed")


def test_ninja_refuses_a_request_without_a_key_with_401(ninja: Call, db: None) -> None:
    assert ninja().status_code == 401


def test_ninja_refuses_a_key_without_the_scope_with_403_naming_it(ninja: Call, user: Any) -> None:
    _, token = create_key(user, "ninja", scopes=["credits:read"])

    response = ninja(**bearer(token))

    assert response.status_code == 403
    assert response.json() == {
        "detail": "The API key lacks the scope reports:read.",
        "code": "permission_denied",
    }


def test_ninja_applies_the_key_rate_limit(ninja: Call, user: Any) -> None:
    _, token = create_key(user, "ninja", scopes=["reports:read"], rate_limit=2)

    responses = [ninja(**bearer(token)) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert 1 <= int(responses[-1]["Retry-After"]) <= 60
    assert message_and_code(responses[-1]) == (
        "Too many requests: the limit is 2 a minute.",
        "rate_limited",
    )


def test_ninja_applies_the_failed_authentication_limit(
    ninja: Call, user: Any, settings: Any
) -> None:
    settings.QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT = 3
    _, token = create_key(user, "ninja", scopes=["reports:read"])
    assert [ninja(**bearer("wrong")).status_code for _ in range(3)] == [401, 401, 401]

    blocked = ninja(**bearer(token))

    assert blocked.status_code == 429
    assert "Retry-After" in blocked


def test_ninja_without_the_exception_handler_keeps_the_statuses(user: Any) -> None:
    api = NinjaAPI(urls_namespace=f"adapters-{id(object())}")

    @api.get("/report", auth=APIKeyAuth(scopes=["reports:read"]))
    def report(request: HttpRequest) -> dict[str, str]:
        return {"user": request.user.get_username()}

    client = TestClient(api)
    _, good = create_key(user, "ninja", scopes=["reports:read"])
    _, narrow = create_key(user, "narrow", scopes=["credits:read"])

    assert client.get("/report", headers=bearer(good)).json() == {"user": user.get_username()}
    assert client.get("/report", headers=bearer("nope")).status_code == 401
    refused = client.get("/report", headers=bearer(narrow))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "The API key lacks the scope reports:read."}


def test_ninja_openapi_lists_both_ways_of_sending_a_key() -> None:
    schema = ninja_api.get_openapi_schema(path_prefix="/ninja")

    assert schema["components"]["securitySchemes"] == {
        "APIKeyAuth": {"type": "http", "scheme": "bearer"},
        "APIKeyHeaderAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    documented = schema["paths"]["/ninja/report"]["get"]["security"]
    assert documented == [{"APIKeyAuth": []}, {"APIKeyHeaderAuth": []}]  # either one


def test_ninja_the_header_scheme_alone_accepts_both_headers(user: Any) -> None:
    api = NinjaAPI(urls_namespace=f"adapters-{id(object())}")

    @api.get("/report", auth=APIKeyHeaderAuth(scopes=["reports:read"]))
    def report(request: HttpRequest) -> dict[str, str]:
        return {"user": request.user.get_username()}

    client = TestClient(api)
    _, token = create_key(user, "ninja", scopes=["reports:read"])

    assert client.get("/report", headers={"X-API-Key": token}).status_code == 200
    assert client.get("/report", headers=bearer(token)).status_code == 200
    assert client.get("/report", headers=bearer("nope")).status_code == 401
    assert client.get("/report").status_code == 401


@pytest.mark.parametrize("path", ["/drf/report-post/", "/ninja/report"])
def test_a_key_authenticated_post_needs_no_csrf_token(user: Any, path: str) -> None:
    """Outside the prefixes, with Django's CSRF checks on and a signed-in session beside the key:
    the adapters exempt what their key authenticator accepted, as ``require_scopes`` does."""
    key, token = create_key(user, "poster", scopes=["reports:read"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post(path, headers=bearer(token))

    assert response.status_code == 200, response.content
    assert response.json() == {"user": user.get_username(), "key": key.key_id}


def test_drf_a_session_post_without_a_key_still_needs_its_csrf_token(user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.post("/drf/report-post/")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# -- one code path -----------------------------------------------------------------------------


def test_a_key_is_counted_together_across_the_decorator_drf_and_ninja(user: Any) -> None:
    _, token = create_key(user, "shared", scopes=["reports:read"], rate_limit=3)
    paths = ["/report/", "/drf/report/", "/ninja/report"]

    served = [caller(path)(**bearer(token)).status_code for path in paths]
    refused = [caller(path)(**bearer(token)).status_code for path in paths]

    assert served == [200, 200, 200]
    assert refused == [429, 429, 429]


@pytest.mark.parametrize("path", ["/drf/report/", "/ninja/report"])
def test_with_the_cache_down_and_the_limits_closed_the_adapters_answer_503(
    path: str, user: Any, settings: Any
) -> None:
    _, token = create_key(user, "down", scopes=["reports:read"])
    settings.CACHES = {
        **settings.CACHES,
        "down": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    settings.QUICKSCALE_APIKEYS_CACHE = "down"
    settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN = False

    response = caller(path)(**bearer(token))

    assert response.status_code == 503
    assert response["Retry-After"] == str(ratelimit.UNAVAILABLE_RETRY_AFTER)


def test_drf_with_the_documented_default_authentication_classes(user: Any, settings: Any) -> None:
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from quickscale.apikeys.contrib.drf import HasScopes

    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "quickscale.apikeys.contrib.drf.APIKeyAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
    }

    from rest_framework.settings import api_settings

    class ReportView(APIView):  # type: ignore[misc]
        # APIView read the setting when DRF was imported, before this test changed it.
        authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES
        permission_classes = [HasScopes]
        required_scopes = ["reports:read"]

        def get(self, request: Any) -> Response:
            return Response({"user": request.user.get_username()})

    _, token = create_key(user, "drf", scopes=["reports:read"])
    view = ReportView.as_view()
    factory = RequestFactory()

    served = view(factory.get("/reports/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    no_key = view(factory.get("/reports/"))

    assert served.status_code == 200
    assert served.data == {"user": user.get_username()}
    assert no_key.status_code == 401
    assert no_key["WWW-Authenticate"] == 'Bearer realm="api"'

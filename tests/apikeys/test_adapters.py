"""The Django REST framework and django-ninja adapters authenticate with the same keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from ninja import NinjaAPI
from ninja.testing import TestClient
from rest_framework.response import Response
from rest_framework.views import APIView

from quickscale.apikeys.contrib.drf import APIKeyAuthentication, HasScopes
from quickscale.apikeys.contrib.ninja import APIKeyAuth
from quickscale.apikeys.keys import create_key


class Report(APIView):  # type: ignore[misc]
    authentication_classes = [APIKeyAuthentication]
    permission_classes = [HasScopes]
    required_scopes = ["reports:read"]

    def get(self, request: Any) -> Response:
        return Response({"user": request.user.get_username(), "key": request.auth.key_id})


def drf_get(headers: dict[str, str]) -> Any:
    request = RequestFactory().get("/api/report", **headers)
    return Report.as_view()(request)


def test_drf_authenticates_a_key_with_the_scope(user: Any) -> None:
    key, token = create_key(user, "drf", scopes=["reports:read"])

    response = drf_get({"HTTP_AUTHORIZATION": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.data == {"user": user.get_username(), "key": key.key_id}


def test_drf_refuses_a_bad_key_with_401(db: None) -> None:
    response = drf_get({"HTTP_AUTHORIZATION": "Bearer qs_live_bad"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_drf_refuses_a_key_without_the_scope(user: Any) -> None:
    _, token = create_key(user, "drf", scopes=["credits:read"])

    assert drf_get({"HTTP_AUTHORIZATION": f"Bearer {token}"}).status_code == 403


@pytest.fixture
def ninja_client() -> TestClient:
    api = NinjaAPI(urls_namespace=f"adapters-{id(object())}")

    @api.get("/report", auth=APIKeyAuth(scopes=["reports:read"]))
    def report(request: HttpRequest) -> dict[str, str]:
        return {"user": request.user.get_username()}

    return TestClient(api)


def test_ninja_authenticates_a_key_with_the_scope(user: Any, ninja_client: TestClient) -> None:
    _, token = create_key(user, "ninja", scopes=["reports:write"])

    response = ninja_client.get("/report", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert response.json() == {"user": user.get_username()}


@pytest.mark.parametrize("scopes", [[], ["credits:read"]])
def test_ninja_refuses_bad_keys_and_missing_scopes(
    user: Any, ninja_client: TestClient, scopes: list[str]
) -> None:
    _, token = create_key(user, "ninja", scopes=scopes)

    assert (
        ninja_client.get("/report", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    assert ninja_client.get("/report", headers={"Authorization": "Bearer nope"}).status_code == 401

"""Django REST framework and django-ninja endpoints protected by quickscale API keys, outside
``QUICKSCALE_APIKEYS_PATH_PREFIXES`` and under it (where the middleware authenticates first),
next to a ``require_scopes`` view. The sync ninja operation uses the documented
``api_key_auth`` (both OpenAPI schemes), the async one ``APIKeyAuth`` alone."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.response import Response
from rest_framework.views import APIView

from quickscale.apikeys.contrib.drf import APIKeyAuthentication, HasScopes
from quickscale.apikeys.contrib.ninja import APIKeyAuth, add_exception_handler, api_key_auth
from tests.apikeys.urls_anywhere import report


class DRFReport(APIView):  # type: ignore[misc]
    authentication_classes = [APIKeyAuthentication]
    permission_classes = [HasScopes]
    required_scopes = ["reports:read"]

    def get(self, request: Any) -> Response:
        return Response(
            {
                "user": request.user.get_username(),
                "key": request.auth.key_id,
                "django_user": request._request.user.get_username(),
            }
        )


class DRFReportPost(APIView):  # type: ignore[misc]
    """The documented authentication classes: a key, else the session (with DRF's CSRF check)."""

    authentication_classes = [APIKeyAuthentication, SessionAuthentication]
    permission_classes = [HasScopes]
    required_scopes = ["reports:read"]

    def post(self, request: Any) -> Response:
        return Response({"user": request.user.get_username(), "key": request.auth.key_id})


@api_view(["GET"])
@authentication_classes([APIKeyAuthentication])
@permission_classes([HasScopes.requiring("reports:read")])
def drf_function_report(request: Any) -> Response:
    return Response({"user": request.user.get_username(), "key": request.auth.key_id})


api = NinjaAPI(urls_namespace="quickscale-apikeys-tests")
add_exception_handler(api)


@api.get("/report", auth=api_key_auth(scopes=["reports:read"]))
def ninja_report(request: HttpRequest) -> dict[str, str]:
    return {"user": request.user.get_username(), "key": request.auth.key_id}  # type: ignore[attr-defined]


@api.post("/report", auth=api_key_auth(scopes=["reports:read"]))
def ninja_report_post(request: HttpRequest) -> dict[str, str]:
    return {"user": request.user.get_username(), "key": request.auth.key_id}  # type: ignore[attr-defined]


@api.get("/async-report", auth=APIKeyAuth(scopes=["reports:read"]))
async def ninja_async_report(request: HttpRequest) -> dict[str, str]:
    owner = await request.auser()
    return {"user": owner.get_username(), "key": request.auth.key_id}  # type: ignore[attr-defined]


urlpatterns = [
    path("report/", report),
    path("drf/report/", DRFReport.as_view()),
    path("drf/function-report/", drf_function_report),
    path("drf/report-post/", DRFReportPost.as_view()),
    path("api/host/drf-report/", DRFReport.as_view()),
    path("ninja/", api.urls),
    path("api/host/ninja/", api.urls),
]

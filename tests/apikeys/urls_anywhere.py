"""Views protected by ``require_scopes`` outside ``QUICKSCALE_APIKEYS_PATH_PREFIXES``: sync and
async functions and a class-based view decorated through ``method_decorator(...,
name="dispatch")``; and a plain view under ``/api/`` that takes session posts."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync, markcoroutinefunction
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils.decorators import method_decorator
from django.views import View

from quickscale.apikeys.decorators import require_scopes


def _seen(request: HttpRequest) -> dict[str, Any]:
    return {
        "user": request.user.get_username(),
        "key": request.auth.key_id,  # type: ignore[attr-defined]
        "method": request.method,
    }


@require_scopes("reports:read")
def report(request: HttpRequest) -> JsonResponse:
    owner = async_to_sync(request.auser)()
    return JsonResponse({**_seen(request), "auser": owner.get_username()})


@require_scopes("reports:read")
async def async_report(request: HttpRequest) -> JsonResponse:
    owner = await request.auser()
    return JsonResponse({**_seen(request), "auser": owner.get_username()})


def _marked(request: HttpRequest) -> Any:
    async def answer() -> JsonResponse:
        owner = await request.auser()
        return JsonResponse({**_seen(request), "auser": owner.get_username()})

    return answer()


#: A plain function marked as a coroutine function, as Django's own async-capable callables are.
marked_report = require_scopes("reports:read")(markcoroutinefunction(_marked))


@method_decorator(require_scopes("reports:read"), name="dispatch")
class ClassReport(View):
    """The documented way for a class-based view: ``dispatch``, whose ``csrf_exempt`` marking
    ``as_view()`` copies to the view it returns."""

    def get(self, request: HttpRequest) -> JsonResponse:
        owner = async_to_sync(request.auser)()
        return JsonResponse({**_seen(request), "auser": owner.get_username()})

    post = get


def session_post(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username()})


urlpatterns = [
    path("report/", report),
    path("async-report/", async_report),
    path("marked-report/", marked_report),
    path("class-report/", ClassReport.as_view()),
    path("api/host/session-post/", session_post),
]

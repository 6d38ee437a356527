"""Billing's URLs with a webhook endpoint that refuses every delivery (503), to see what the
payment sandbox does when its events are not accepted."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from quickscale.billing import urls as billing_urls


@csrf_exempt
def refuse(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "unavailable", "message": "The endpoint is down.", "details": None}},
        status=503,
    )


patterns = [
    *(p for p in billing_urls.urlpatterns if getattr(p, "name", None) != "webhook"),
    path("webhook/", refuse, name="webhook"),
]

urlpatterns = [path("billing/", include((patterns, "quickscale_billing")))]

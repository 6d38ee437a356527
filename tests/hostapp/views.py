"""A host's own key-protected endpoint, to test the middleware apart from the API app."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from quickscale.apikeys.decorators import require_scopes


@require_scopes("ping:read")
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"user": request.user.get_username(), "method": request.method})

"""``APIKeyAuthenticationMiddleware``: authenticates ``/api/`` requests that carry a key.

Put it after ``AuthenticationMiddleware``. A request with ``Authorization: Bearer <token>`` or
``X-API-Key: <token>`` under ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` gets ``request.user`` (the
key's owner) and ``request.auth`` (the key), and is exempt from CSRF: a key is not sent by the
browser on its own, so it cannot be forged across sites. Requests without a key are left alone
(``request.auth`` is ``None``), and a session keeps needing its CSRF token. A bad key is
answered with 401 at once; too many requests with 429 and ``Retry-After``. When the rate
limits' cache cannot be reached, the request is served uncounted or, with
``QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN`` off, answered with 503 and ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from quickscale.apikeys import ratelimit
from quickscale.apikeys.exceptions import (
    AuthenticationFailed,
    RateLimited,
    RateLimitUnavailable,
)
from quickscale.apikeys.keys import authenticate
from quickscale.core.http import client_ip, error_response


def credentials(request: HttpRequest) -> str | None:
    """The token the request presents (``Authorization: Bearer`` first, then ``X-API-Key``),
    or ``None``."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.META.get("HTTP_X_API_KEY", "").strip()
    return key or None


def _covered(path: str) -> bool:
    if any(path.startswith(public) for public in settings.QUICKSCALE_APIKEYS_PUBLIC_PATHS):
        return False
    return any(path.startswith(prefix) for prefix in settings.QUICKSCALE_APIKEYS_PATH_PREFIXES)


class APIKeyAuthenticationMiddleware:
    """Authenticates the requests under ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` that present a key
    (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.auth = None  # type: ignore[attr-defined]
        if not _covered(request.path_info):
            return self.get_response(request)
        raw = credentials(request)
        if raw is None:
            return self.get_response(request)
        ip = client_ip(request)
        try:
            ratelimit.check_address(ip)
            try:
                key = authenticate(raw, ip)
            except AuthenticationFailed:
                ratelimit.fail(ip)  # raises once the address is over its limit (or uncountable)
                raise
            ratelimit.admit(
                ip, key.key_id, key.rate_limit or settings.QUICKSCALE_APIKEYS_RATE_LIMIT
            )
        except (RateLimited, RateLimitUnavailable) as error:
            return error_response(error, headers={"Retry-After": str(error.retry_after)})
        except AuthenticationFailed as error:
            return error_response(error, headers={"WWW-Authenticate": 'Bearer realm="api"'})
        owner = key.owner

        async def auser() -> Any:
            return owner

        request.user = owner
        request.auser = auser
        request.auth = key  # type: ignore[attr-defined]
        request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)

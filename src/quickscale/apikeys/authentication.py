"""Authenticating a request by the API key it presents: the one code path that the
middleware, ``require_scopes`` and the Django REST framework and django-ninja adapters share.

``authenticate_request`` reads the key (``Authorization: Bearer <token>`` or
``X-API-Key: <token>``), refuses an address over its failed-authentication limit, verifies the
key (counting a failure against the address), admits the request against the key's rate limit
and sets the request's attributes: ``request.user`` and ``request.auser`` (the key's owner),
``request.auth`` (the key) and the CSRF exemption. A request is checked once: whoever asks
again gets the same key without a second query or a second count.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext

from quickscale.apikeys import ratelimit
from quickscale.apikeys.exceptions import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    RateLimitUnavailable,
)
from quickscale.apikeys.keys import authenticate
from quickscale.apikeys.models import APIKey
from quickscale.core.errors import QuickScaleError
from quickscale.core.http import client_ip, error_response

#: The request attribute that says its key was looked for already (found or not).
CHECKED = "_quickscale_apikeys_checked"
#: The ``WWW-Authenticate`` challenge of a 401.
CHALLENGE = 'Bearer realm="api"'

#: The errors ``authenticate_request`` raises.
KeyErrors = (AuthenticationFailed, RateLimited, RateLimitUnavailable)


def credentials(request: HttpRequest) -> str | None:
    """The token the request presents (``Authorization: Bearer`` first, then ``X-API-Key``),
    or ``None``."""
    headers = request.headers  # not META: test clients (ninja's) may not spell it as Django
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = headers.get("X-API-Key", "").strip()
    return key or None


def is_checked(request: HttpRequest) -> bool:
    """Whether the request's key is known already: authenticated (``request.auth`` is a key)
    or looked for by ``authenticate_request``. Checking such a request costs no query."""
    return isinstance(getattr(request, "auth", None), APIKey) or getattr(request, CHECKED, False)


def authenticate_request(request: HttpRequest) -> APIKey | None:
    """The key the request presents, authenticated and admitted against the rate limits, or
    ``None`` when it presents none (see the module docstring).

    Raises ``AuthenticationFailed`` for a bad key, ``RateLimited`` past the key's limit or the
    address's failed authentications, and ``RateLimitUnavailable`` when the rate limits'
    cache cannot be reached and they fail closed.
    """
    key = getattr(request, "auth", None)
    if isinstance(key, APIKey):
        return key
    if getattr(request, CHECKED, False):
        return None
    setattr(request, CHECKED, True)
    request.auth = None  # type: ignore[attr-defined]
    raw = credentials(request)
    if raw is None:
        return None
    ip = client_ip(request)
    ratelimit.check_address(ip)
    try:
        key = authenticate(raw, ip)
    except AuthenticationFailed:
        ratelimit.fail(ip)  # raises once the address is over its limit (or uncountable)
        raise
    ratelimit.admit(ip, key.key_id, key.rate_limit or settings.QUICKSCALE_APIKEYS_RATE_LIMIT)
    _attach(request, key)
    return key


#: ``authenticate_request`` for async code: its queries and cache calls run in a thread.
aauthenticate_request = sync_to_async(authenticate_request)


def _attach(request: HttpRequest, key: APIKey) -> None:
    owner = key.owner

    async def auser() -> Any:
        return owner

    request.user = owner
    request.auser = auser
    request.auth = key  # type: ignore[attr-defined]
    # A key is not sent by the browser on its own, so it cannot be forged across sites.
    request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]


def missing_scopes(key: APIKey, scopes: tuple[str, ...] | list[str]) -> list[str]:
    """The scopes of ``scopes`` that ``key`` lacks (``write`` implies ``read``)."""
    return [scope for scope in scopes if not key.has_scope(scope)]


def no_key() -> AuthenticationFailed:
    """The error of a request that presents no key where one is needed."""
    return AuthenticationFailed(
        gettext("This endpoint needs an API key: send 'Authorization: Bearer <key>'.")
    )


def lacks_scopes(missing: list[str]) -> PermissionDenied:
    """The error of a key that lacks the scopes ``missing``."""
    return PermissionDenied(
        gettext("The API key lacks the scope %(scopes)s.") % {"scopes": ", ".join(missing)},
        details={"missing_scopes": missing},
    )


def error_headers(error: QuickScaleError) -> dict[str, str]:
    """The headers that go with an error of key authentication: ``Retry-After`` for 429 and
    503, ``WWW-Authenticate`` for 401."""
    if isinstance(error, (RateLimited, RateLimitUnavailable)):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, AuthenticationFailed):
        return {"WWW-Authenticate": CHALLENGE}
    return {}


def refusal(error: QuickScaleError) -> JsonResponse:
    """The JSON error response for an error of key authentication, with its headers."""
    return error_response(error, headers=error_headers(error))


def check(request: HttpRequest, scopes: tuple[str, ...]) -> JsonResponse | None:
    """The refusal of a request that needs a key with ``scopes`` (401 without a key or with a
    bad one, 403 naming the missing scopes, 429 or 503 from the rate limits), or ``None`` when
    it may go on. Authenticates the key unless that was done already."""
    try:
        key = authenticate_request(request)
    except KeyErrors as error:
        return refusal(error)
    if key is None:
        return refusal(no_key())
    missing = missing_scopes(key, scopes)
    if missing:
        return refusal(lacks_scopes(missing))
    return None

"""``APIKeyAuthenticationMiddleware``: authenticates ``/api/`` requests that carry a key.

Put it after ``AuthenticationMiddleware``. A request with ``Authorization: Bearer <token>`` or
``X-API-Key: <token>`` under ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` gets ``request.user`` (the
key's owner) and ``request.auth`` (the key), and is exempt from CSRF: a key is not sent by the
browser on its own, so it cannot be forged across sites. Requests without a key are left alone
(``request.auth`` is ``None``), and a session keeps needing its CSRF token. A bad key is
answered with 401 at once; too many requests with 429 and ``Retry-After``. When the rate
limits' cache cannot be reached, the request is served uncounted or, with
``QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN`` off, answered with 503 and ``Retry-After``.

Requests outside those prefixes are not read here: a view there protected by
``require_scopes`` (or an adapter of ``quickscale.apikeys.contrib``) authenticates its key
itself, through the same code (``quickscale.apikeys.authentication``). The middleware works
under WSGI and ASGI alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from quickscale.apikeys.authentication import (
    KeyErrors,
    authenticate_request,
    credentials,
    refusal,
)

__all__ = ["APIKeyAuthenticationMiddleware", "credentials"]


def _covered(path: str) -> bool:
    if any(path.startswith(public) for public in settings.QUICKSCALE_APIKEYS_PUBLIC_PATHS):
        return False
    return any(path.startswith(prefix) for prefix in settings.QUICKSCALE_APIKEYS_PATH_PREFIXES)


def _authenticate(request: HttpRequest) -> HttpResponse | None:
    """The refusal of a covered request with a bad key or over a rate limit, else ``None``."""
    try:
        authenticate_request(request)
    except KeyErrors as error:
        return refusal(error)
    return None


class APIKeyAuthenticationMiddleware:
    """Authenticates the requests under ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` that present a key
    (see the module's docstring). Sync and async capable: under ASGI it runs without a thread
    switch, except for the key's query and rate limit, which run in a thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        request.auth = None  # type: ignore[attr-defined]
        if _covered(request.path_info) and credentials(request) is not None:
            refused = _authenticate(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        """The async mode of ``__call__``: the same checks, the same answers."""
        request.auth = None  # type: ignore[attr-defined]
        if _covered(request.path_info) and credentials(request) is not None:
            refused = await sync_to_async(_authenticate)(request)
            if refused is not None:
                return refused
        response: Awaitable[HttpResponse] = self.get_response(request)
        return await response

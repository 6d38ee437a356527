"""django-ninja authentication with quickscale API keys.

.. code-block:: python

    from quickscale.apikeys.contrib.ninja import add_exception_handler, api_key_auth

    api = NinjaAPI(auth=api_key_auth())
    add_exception_handler(api)  # Retry-After and WWW-Authenticate on its errors

    @api.get("/reports", auth=api_key_auth(scopes=["reports:read"]))
    def reports(request): ...

``api_key_auth`` is ``[APIKeyAuth(scopes), APIKeyHeaderAuth(scopes)]``: ninja's list of
authenticators, so that its OpenAPI document names both ways of sending a key (the ``bearer``
scheme ``APIKeyAuth`` and the ``X-API-Key`` header scheme ``APIKeyHeaderAuth``). Either class
accepts either header; ``APIKeyAuth`` alone works the same but documents only the bearer scheme.

Authentication runs the same code as ``APIKeyAuthenticationMiddleware`` and ``require_scopes``
(``quickscale.apikeys.authentication``): the same verification, the same rate limits and the
same request attributes; a request the middleware authenticated already is not verified or
counted again. It works for sync and async operations (ninja runs it in a thread for these).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from ninja.errors import HttpError
from ninja.security import APIKeyHeader, HttpBearer
from ninja.security.base import AuthBase

from quickscale.apikeys.authentication import (
    KeyErrors,
    authenticate_request,
    credentials,
    error_headers,
    is_checked,
    lacks_scopes,
    missing_scopes,
)
from quickscale.apikeys.models import APIKey
from quickscale.core.errors import QuickScaleError

if TYPE_CHECKING:
    from ninja import NinjaAPI


class APIKeyError(HttpError):
    """A refusal of API key authentication, as ninja's ``HttpError``: its status is the
    quickscale error's (401, 403, 429, 503), ``code`` its code and ``headers`` the headers
    that go with it."""

    def __init__(self, error: QuickScaleError) -> None:
        super().__init__(error.status, error.message)
        self.code = error.code
        self.headers = error_headers(error)


class _KeyAuth:
    """What ``APIKeyAuth`` and ``APIKeyHeaderAuth`` share: they differ only in the OpenAPI
    security scheme ninja derives from their base class."""

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        super().__init__()
        self.scopes = tuple(scopes)

    def __call__(self, request: HttpRequest) -> APIKey | None:
        if credentials(request) is None and not is_checked(request):
            return None
        return self.authenticate(request, "")

    def authenticate(self, request: HttpRequest, token: str | None) -> APIKey | None:
        """The request's key (it reads the token from the request's headers itself)."""
        try:
            key = authenticate_request(request)
        except KeyErrors as error:
            raise APIKeyError(error) from None
        if key is None:
            return None
        missing = missing_scopes(key, self.scopes)
        if missing:
            raise APIKeyError(lacks_scopes(missing))
        return key


class APIKeyAuth(_KeyAuth, HttpBearer):
    """Accepts ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; with ``scopes``, only
    keys that have them all. ``request.auth`` is the key and ``request.user`` its owner.

    No key: ``None`` (ninja tries the next authenticator, else answers 401). A bad key (401),
    a missing scope (403, naming it) or a rate limit (429, or 503 when the limits fail closed
    and their cache is down) raises ``APIKeyError``, which ends authentication. Its OpenAPI
    security scheme is HTTP ``bearer``; see ``api_key_auth`` for both schemes.
    """


class APIKeyHeaderAuth(_KeyAuth, APIKeyHeader):
    """``APIKeyAuth`` whose OpenAPI security scheme is the ``X-API-Key`` header (``apiKey``
    in ``header``). It accepts the same headers and answers the same way."""

    param_name = "X-API-Key"


def api_key_auth(scopes: Iterable[str] = ()) -> list[AuthBase]:
    """``[APIKeyAuth(scopes), APIKeyHeaderAuth(scopes)]``, for ninja's ``auth``: the key in
    either header, and both schemes in ninja's OpenAPI document."""
    needed = tuple(scopes)
    return [APIKeyAuth(needed), APIKeyHeaderAuth(needed)]


def add_exception_handler(api: NinjaAPI) -> None:
    """Answer ``APIKeyError`` with ``{"detail": message, "code": code}`` and its headers
    (``Retry-After``, ``WWW-Authenticate``). Without it, ninja's default handler answers with
    the same status and ``{"detail": message}``, without those headers."""

    def handler(request: HttpRequest, error: Any) -> HttpResponse:  # an APIKeyError
        response = api.create_response(
            request, {"detail": error.message, "code": error.code}, status=error.status_code
        )
        for name, value in error.headers.items():
            response[name] = value
        return response

    api.add_exception_handler(APIKeyError, handler)

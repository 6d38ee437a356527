"""Django REST framework authentication and permission with quickscale API keys.

.. code-block:: python

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "quickscale.apikeys.contrib.drf.APIKeyAuthentication",  # first: its 401 challenge
            "rest_framework.authentication.SessionAuthentication",
        ],
    }

    class ReportView(APIView):
        permission_classes = [HasScopes]
        required_scopes = ["reports:read"]

    @api_view(["GET"])
    @permission_classes([HasScopes.requiring("reports:read")])
    def report(request): ...

Authentication runs the same code as ``APIKeyAuthenticationMiddleware`` and ``require_scopes``
(``quickscale.apikeys.authentication``): the same verification, the same rate limits (429 with
``Retry-After``; 503 when the limits fail closed and their cache is down) and the same request
attributes. A request the middleware authenticated already is not verified or counted again.
Errors keep DRF's shape (``{"detail": ...}``), with the quickscale error code as DRF's code.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from quickscale.apikeys.authentication import (
    CHALLENGE,
    authenticate_request,
    lacks_scopes,
    missing_scopes,
)
from quickscale.apikeys.exceptions import AuthenticationFailed, RateLimited, RateLimitUnavailable
from quickscale.apikeys.models import APIKey


class RateLimitsUnavailable(exceptions.APIException):  # type: ignore[misc]
    """503 with ``Retry-After``: the rate limits' cache is down and the limits fail closed."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = RateLimitUnavailable.code

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail, self.default_code)
        self.wait = wait


class APIKeyAuthentication(BaseAuthentication):  # type: ignore[misc]
    """``request.user`` is the key's owner and ``request.auth`` the key; a request without a
    key is left to the next authentication class. 401 for a bad key, 429 or 503 from the rate
    limits (see the module docstring)."""

    def authenticate(self, request: Request) -> tuple[Any, APIKey] | None:
        """The key's owner and the key, ``None`` without a key, or DRF's error."""
        try:
            key = authenticate_request(request._request)
        except AuthenticationFailed as error:
            raise exceptions.AuthenticationFailed(error.message, error.code) from None
        except RateLimited as error:
            raise exceptions.Throttled(error.retry_after, error.message, error.code) from None
        except RateLimitUnavailable as error:
            raise RateLimitsUnavailable(error.message, error.retry_after) from None
        if key is None:
            return None
        return key.owner, key

    def authenticate_header(self, request: Request) -> str:
        """The ``WWW-Authenticate`` challenge, which makes DRF answer 401 rather than 403."""
        return CHALLENGE


class HasScopes(BasePermission):  # type: ignore[misc]
    """Grants access when the request's key has every scope in ``scopes`` and in the view's
    ``required_scopes`` (``write`` implies ``read``). Without a key: 401 (with
    ``APIKeyAuthentication`` first among the authentication classes); a key without them: 403
    naming the missing scopes."""

    #: Scopes every request needs, besides the view's ``required_scopes``.
    scopes: tuple[str, ...] = ()

    @classmethod
    def requiring(cls, *scopes: str) -> type[HasScopes]:
        """A ``HasScopes`` that requires ``scopes``, for views that cannot carry
        ``required_scopes`` (function views of ``@api_view``)."""
        return type(f"HasScopes[{','.join(scopes)}]", (cls,), {"scopes": tuple(scopes)})

    def has_permission(self, request: Request, view: Any) -> bool:
        """Whether the key has the scopes; sets the message and code DRF's 403 shows."""
        key = request.auth
        if not isinstance(key, APIKey):
            return False
        needed = (*self.scopes, *getattr(view, "required_scopes", ()))
        missing = missing_scopes(key, needed)
        if missing:
            error = lacks_scopes(missing)
            self.message = error.message
            self.code = error.code
            return False
        return True

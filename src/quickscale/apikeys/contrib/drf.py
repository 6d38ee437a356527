"""Django REST framework authentication with quickscale API keys.

.. code-block:: python

    REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "quickscale.apikeys.contrib.drf.APIKeyAuthentication",
        ],
    }

    class ReportView(APIView):
        permission_classes = [HasScopes]
        required_scopes = ["reports:read"]
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from quickscale.apikeys.exceptions import AuthenticationFailed
from quickscale.apikeys.keys import authenticate
from quickscale.apikeys.middleware import credentials
from quickscale.apikeys.models import APIKey
from quickscale.core.http import client_ip


class APIKeyAuthentication(BaseAuthentication):  # type: ignore[misc]
    """``request.user`` is the key's owner and ``request.auth`` the key. Reuses the key the
    middleware already checked, if it ran."""

    def authenticate(self, request: Request) -> tuple[Any, APIKey] | None:
        django_request = request._request
        key = getattr(django_request, "auth", None)
        if isinstance(key, APIKey):
            return key.owner, key
        raw = credentials(django_request)
        if raw is None:
            return None
        try:
            key = authenticate(raw, client_ip(django_request))
        except AuthenticationFailed as error:
            raise exceptions.AuthenticationFailed(error.message) from None
        return key.owner, key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class HasScopes(BasePermission):  # type: ignore[misc]
    """Grants access when the request's key has every scope in the view's ``required_scopes``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, APIKey):
            return False
        return all(key.has_scope(scope) for scope in getattr(view, "required_scopes", ()))

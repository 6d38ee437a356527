"""django-ninja authentication with quickscale API keys.

.. code-block:: python

    api = NinjaAPI(auth=APIKeyAuth())

    @api.get("/reports", auth=APIKeyAuth(scopes=["reports:read"]))
    def reports(request): ...
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja.security import HttpBearer

from quickscale.apikeys.exceptions import AuthenticationFailed
from quickscale.apikeys.keys import authenticate
from quickscale.apikeys.models import APIKey
from quickscale.core.http import client_ip


class APIKeyAuth(HttpBearer):
    """Accepts ``Authorization: Bearer <key>``; with ``scopes``, only keys that have them all.
    ``request.auth`` is the key and ``request.user`` its owner."""

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        super().__init__()
        self.scopes = tuple(scopes)

    def authenticate(self, request: HttpRequest, token: str) -> APIKey | None:
        key = getattr(request, "auth", None)
        if not isinstance(key, APIKey):
            try:
                key = authenticate(token, client_ip(request))
            except AuthenticationFailed:
                return None
        if not all(key.has_scope(scope) for scope in self.scopes):
            return None
        request.user = key.owner
        return key

"""``require_scopes``: refuse a view unless the request's API key has every scope named."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse

from quickscale.apikeys.exceptions import AuthenticationFailed, PermissionDenied
from quickscale.core.http import error_response

View = Callable[..., HttpResponse]


def require_scopes(*scopes: str) -> Callable[[View], View]:
    """401 without a key, 403 naming the missing scopes with one that lacks them (deny by
    default: a key has only the scopes it was given; ``write`` implies ``read``)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            key = getattr(request, "auth", None)
            if key is None:
                return error_response(
                    AuthenticationFailed(
                        "This endpoint needs an API key: send 'Authorization: Bearer <key>'."
                    ),
                    headers={"WWW-Authenticate": 'Bearer realm="api"'},
                )
            missing = [scope for scope in scopes if not key.has_scope(scope)]
            if missing:
                return error_response(
                    PermissionDenied(
                        f"The API key lacks the scope {', '.join(missing)}.",
                        details={"missing_scopes": missing},
                    )
                )
            return view(request, *args, **kwargs)

        wrapped.required_scopes = scopes  # type: ignore[attr-defined]
        return wrapped

    return decorator

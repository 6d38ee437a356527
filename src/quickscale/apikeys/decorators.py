"""``require_scopes``: refuse a view unless the request's API key has every scope named.

It works on any view at any path, sync or ``async def``. Where
``APIKeyAuthenticationMiddleware`` authenticated the request already (a path under
``QUICKSCALE_APIKEYS_PATH_PREFIXES``), the decorator uses its key; elsewhere, or without the
middleware, it authenticates the key itself, with the same verification, errors, rate limits
and request attributes (see ``quickscale.apikeys.authentication``). The view is exempt from
CSRF checks: it answers only requests that send a key, which a browser never sends on its own.

On a class-based view, decorate ``dispatch``
(``method_decorator(require_scopes(...), name="dispatch")``): ``as_view()`` copies the
``csrf_exempt`` marking of ``dispatch`` to the view it returns, the only place Django's
``CsrfViewMiddleware`` looks. Decorating ``post`` leaves the marking on the method, and outside
the middleware's prefixes CSRF refuses a key-authenticated POST before the decorator runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from quickscale.apikeys.authentication import check, is_checked

View = Callable[..., Any]


def require_scopes(*scopes: str) -> Callable[[View], View]:
    """401 without a key or with a bad one, 403 naming the missing scopes with one that lacks
    them (deny by default: a key has only the scopes it was given; ``write`` implies
    ``read``), 429 or 503 from the rate limits. Sync and ``async def`` views alike."""

    def decorator(view: View) -> View:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                if is_checked(request):
                    refused = check(request, scopes)  # no query: the key is known
                else:
                    refused = await sync_to_async(check)(request, scopes)
                if refused is not None:
                    return refused
                return await view(request, *args, **kwargs)

            wrapped: View = async_wrapped
        else:

            @wraps(view)
            def sync_wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                refused = check(request, scopes)
                if refused is not None:
                    return refused
                response: HttpResponse = view(request, *args, **kwargs)
                return response

            wrapped = sync_wrapped
        wrapped.required_scopes = scopes  # type: ignore[attr-defined]
        wrapped.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapped

    return decorator

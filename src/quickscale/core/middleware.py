"""``RequestContextMiddleware``: the request id, client address, user agent and actor of every
request, available to any code through :mod:`quickscale.core.context`.

Put it near the top of ``MIDDLEWARE`` (right after ``SecurityMiddleware``), so everything below
runs inside the context. The actor is read from the request only when something asks for it,
so the session and API key middleware may come after it. The request id (from
``QUICKSCALE_CORE_REQUEST_ID_HEADER`` when the request brings a well-formed one, else a new
one) is also set on ``request.request_id`` and returned in that header of the response.

It works under WSGI and ASGI alike: it runs as a coroutine when the handler below it is one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from quickscale.core.context import bind, request_context, reset

Handler = Callable[[HttpRequest], Any]


class RequestContextMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        value = request_context(request)
        request.request_id = value.request_id  # type: ignore[attr-defined]
        token = bind(value)
        try:
            response = self.get_response(request)
        finally:
            reset(token)
        return self._tag(response, value.request_id)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        value = request_context(request)
        request.request_id = value.request_id  # type: ignore[attr-defined]
        token = bind(value)
        try:
            get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
            response = await get_response(request)
        finally:
            reset(token)
        return self._tag(response, value.request_id)

    @staticmethod
    def _tag(response: HttpResponseBase, request_id: str) -> HttpResponseBase:
        header = settings.QUICKSCALE_CORE_REQUEST_ID_HEADER
        if header not in response:
            response[header] = request_id
        return response

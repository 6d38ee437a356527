"""The suite's middleware.

``RequestContextMiddleware``: the request id, client address, user agent and actor of every
request, available to any code through :mod:`quickscale.core.context`.

Put it near the top of ``MIDDLEWARE`` (right after ``SecurityMiddleware``), so everything below
runs inside the context. The actor is read from the request only when something asks for it,
so the session and API key middleware may come after it. The request id (from
``QUICKSCALE_CORE_REQUEST_ID_HEADER`` when the request brings a well-formed one, else a new
one) is also set on ``request.request_id`` and returned in that header of the response.

It works under WSGI and ASGI alike: it runs as a coroutine when the handler below it is one.

``DatabaseUnavailableMiddleware``: a 503 with ``Retry-After`` instead of a 500 while the
database cannot be reached (see :mod:`quickscale.core.outages`). Put it right after
``RequestContextMiddleware``, above the session middleware and everything else that may query
the database.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

from quickscale.core.context import bind, request_context, reset
from quickscale.core.outages import database_unreachable, unavailable_response

Handler = Callable[[HttpRequest], Any]

logger = logging.getLogger(__name__)


class RequestContextMiddleware:
    """Runs each request in its context (:func:`~quickscale.core.context.request_context`),
    sets ``request.request_id`` and sends it back in the request id header of the response,
    unless the response has one already."""

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


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Answers 503 with ``Retry-After`` while the database cannot be reached.

    Under the API's paths the answer is the JSON error ``database_unavailable``, elsewhere the
    ``503.html`` page (see :func:`quickscale.core.outages.unavailable_response`). Only errors
    that :func:`~quickscale.core.outages.database_unreachable` recognises count; any other
    error stays a 500. Each one is logged.

    A view's error reaches ``process_exception``. An error raised by a middleware below this
    one (the API key middleware looks the key up before any view runs) never does: Django
    turns it into a 500 right there. Django sends ``got_request_exception`` first, though, so
    that error is noted on the request and its 500 replaced on the way out.

    Django closes a connection that failed at the end of the request, so the first request
    after the database is back gets a new one.
    """

    #: Seconds the client is asked to wait before trying again (``Retry-After``).
    retry_after = 10

    def __init__(self, get_response: Handler) -> None:
        super().__init__(get_response)
        got_request_exception.connect(_note_unreachable, dispatch_uid=_NOTE_UID)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unreachable(exception):
            return None
        return self._unavailable(request, exception)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        error: BaseException | None = getattr(request, _NOTE, None)
        if error is None:
            return response
        return self._unavailable(request, error)

    def _unavailable(self, request: HttpRequest, error: BaseException) -> HttpResponse:
        logger.error(
            "The database cannot be reached; %s %s answered 503: %s: %s",
            request.method,
            request.path,
            type(error).__name__,
            error,
        )
        return unavailable_response(request, self.retry_after)


_NOTE = "_quickscale_database_unreachable"
_NOTE_UID = "quickscale.core.middleware.note_unreachable"


def _note_unreachable(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Note on the request an error that says the database cannot be reached. Django sends the
    signal while it handles the error, which ``sys.exc_info()`` then holds."""
    error = sys.exc_info()[1]
    if request is not None and error is not None and database_unreachable(error):
        setattr(request, _NOTE, error)

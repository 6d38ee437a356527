"""The database cannot be reached: what counts as that, and the 503 answered meanwhile.

A database that is down, restarting or out of connections is not a bug of the request: a
client that tries again in a few seconds will be answered. So it gets a 503 with
``Retry-After``, in the API's JSON error shape under the API's paths and as the site's
``503.html`` page elsewhere. Every other database error (a ``ProgrammingError``, an
``IntegrityError``, a cancelled statement) stays what it is, a 500 to fix.
"""

from __future__ import annotations

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import TemplateDoesNotExist, loader
from django.utils.translation import gettext
from django.views.defaults import ERROR_PAGE_TEMPLATE

from quickscale.core.errors import DatabaseUnavailable
from quickscale.core.http import error_response

__all__ = [
    "UNREACHABLE_SQLSTATES",
    "database_unreachable",
    "is_api_request",
    "unavailable_response",
]

try:
    import psycopg
except ImportError:  # pragma: no cover - no PostgreSQL driver: nothing is ever unreachable
    psycopg = None  # type: ignore[assignment]

#: SQLSTATEs (a class, or one code) of a PostgreSQL server that cannot take the query: class
#: 08 (connection exception), 57P01 (shut down by the administrator), 57P02 (crashed), 57P03
#: (starting up or shutting down, "cannot connect now") and 53300 (no connection slot left).
UNREACHABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")

#: The API's paths when ``QUICKSCALE_APIKEYS_PATH_PREFIXES`` is not set (quickscale.apikeys is
#: not installed): its default.
DEFAULT_API_PREFIXES = ("/api/",)


def database_unreachable(error: BaseException) -> bool:
    """Whether ``error`` says the database cannot be reached right now, rather than that the
    query was wrong.

    That is an ``OperationalError`` from psycopg 3 that the server did not send (the
    connection was refused, timed out or lost: psycopg gives it no SQLSTATE) or that carries
    one of :data:`UNREACHABLE_SQLSTATES`. Django raises its own exception from the driver's,
    which is the ``__cause__`` read here. Anything else is not: another ``OperationalError``
    (a statement timeout, a deadlock), psycopg's ``InterfaceError`` (a closed cursor used again:
    psycopg 3 reports a lost connection as an ``OperationalError``) and every error from SQLite,
    a file that is never "down" (its ``OperationalError`` is a missing table or a lock).
    """
    if psycopg is None or not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if not isinstance(cause, psycopg.Error):
        return False
    code = cause.sqlstate
    return code is None or code.startswith(UNREACHABLE_SQLSTATES)


def is_api_request(request: HttpRequest) -> bool:
    """Whether ``request`` is for the API: its path is under ``QUICKSCALE_APIKEYS_PATH_PREFIXES``
    (the paths the API key middleware authenticates; ``/api/`` by default)."""
    prefixes = getattr(settings, "QUICKSCALE_APIKEYS_PATH_PREFIXES", DEFAULT_API_PREFIXES)
    return any(request.path_info.startswith(prefix) for prefix in prefixes)


def unavailable_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The 503 of a request the database could not answer: the JSON error
    ``database_unavailable`` for the API, the ``503.html`` page for everything else.

    The page is rendered without the request, as Django renders ``500.html``: no context
    processor runs, so none can touch the database again. Without a ``503.html``, it is
    Django's own plain error page.
    """
    headers = {"Retry-After": str(retry_after), "Cache-Control": "no-store"}
    if is_api_request(request):
        error = DatabaseUnavailable(
            gettext("The database cannot be reached at the moment; try again in a few seconds."),
            retry_after=retry_after,
        )
        return error_response(error, headers=headers)
    try:
        body = loader.get_template("503.html").render()
    except TemplateDoesNotExist:
        body = ERROR_PAGE_TEMPLATE % {"title": "Service Unavailable (503)", "details": ""}
    return HttpResponse(body, status=503, headers=headers)

"""``api_view``: the one place where API requests are checked and errors become responses.

Every endpoint is declared with it, and the declaration is also what the OpenAPI document says
about the endpoint, so the document cannot drift from the code::

    @api_view("GET", scope="credits:read", summary="The balance", response="Balance")
    def balance(request): ...

In order it refuses another method (405 with ``Allow``), a request without a key or without the
scope (401, 403), a body that is too large (413), not JSON (415) or not a JSON object (400), then
calls the view and turns any ``QuickScaleError`` it raises into the JSON error shape with the
error's status; ``Http404`` becomes a JSON 404. Every response is marked ``no-store``.

API views are exempt from CSRF: they authenticate by API key only (a browser session is not a
credential here), so a POST without a key gets the JSON 401, not Django's HTML CSRF page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from django.utils.translation import gettext

from quickscale.api.errors import (
    InvalidJSON,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from quickscale.apikeys.decorators import require_scopes
from quickscale.apikeys.exceptions import AuthenticationFailed, RateLimited
from quickscale.core.errors import QuickScaleError
from quickscale.core.http import error_response
from quickscale.services.exceptions import QueueUnavailable

View = Callable[..., HttpResponse]

#: Methods whose requests carry a JSON body.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Parameter:
    """A query or header parameter, as the OpenAPI document and the docs page show it. Its
    ``schema`` is built from the same constants the view validates with
    (``quickscale.api.limits``); a callable schema is read when the document is made (a bound
    from a setting)."""

    name: str
    description: str
    schema: dict[str, Any] | Callable[[], dict[str, Any]]
    location: str = "query"
    required: bool = False

    def json_schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema now."""
        return dict(self.schema() if callable(self.schema) else self.schema)


@dataclass(frozen=True)
class Header:
    """A response header an operation sends, on the statuses listed."""

    name: str
    description: str
    schema: dict[str, Any]
    statuses: tuple[int, ...]
    #: Sent on every response of those statuses (``required`` in the document).
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """What an endpoint does, for its view (method, scope, body) and its documentation."""

    method: str
    #: The scope the API key needs; ``None`` for a public endpoint that needs no key.
    scope: str | None
    summary: str
    description: str = ""
    #: Name of the success body's schema in the document's ``components``.
    response: str | None = None
    #: Success statuses and what each means.
    statuses: dict[int, str] = field(default_factory=lambda: {200: "OK"})
    media_type: str = "application/json"
    parameters: tuple[Parameter, ...] = ()
    #: Name of the request body's schema; the view then gets the parsed object as ``body``.
    body: str | None = None
    #: Errors the operation itself raises, beyond those of the request (401, 403, 405...).
    errors: tuple[type[QuickScaleError], ...] = ()
    #: Left out of the OpenAPI document (the HTML page that renders it).
    documented: bool = True
    #: Headers of the success responses.
    headers: tuple[Header, ...] = ()


def api_view(
    method: str,
    *,
    scope: str | None,
    summary: str,
    description: str = "",
    response: str | None = None,
    statuses: dict[int, str] | None = None,
    media_type: str = "application/json",
    parameters: tuple[Parameter, ...] = (),
    body: str | None = None,
    errors: tuple[type[QuickScaleError], ...] = (),
    documented: bool = True,
    headers: tuple[Header, ...] = (),
) -> Callable[[View], View]:
    """Declare an endpoint: its method, the scope its key needs, its body and what the OpenAPI
    document says about it (see the module docstring). The declaration is kept on the view as
    ``operation``."""
    operation = Operation(
        method=method,
        scope=scope,
        summary=summary,
        description=description,
        response=response,
        statuses=statuses or {200: "OK"},
        media_type=media_type,
        parameters=parameters,
        body=body,
        errors=errors,
        documented=documented,
        headers=headers,
    )

    def decorator(view: View) -> View:
        inner = _with_body(view) if body is not None else view
        if scope is not None:
            inner = require_scopes(scope)(inner)

        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method != method:
                result = to_response(MethodNotAllowed(str(request.method), [method]))
            else:
                try:
                    result = inner(request, *args, **kwargs)
                except Exception as error:  # noqa: BLE001 (to_response re-raises unknown errors)
                    result = to_response(error)
            result["Cache-Control"] = "no-store"
            return result

        wrapped.operation = operation  # type: ignore[attr-defined]
        # The API authenticates by key only, never by the session cookie, so there is nothing
        # for CSRF to protect: a request without a key reaches the view and gets the JSON 401.
        wrapped.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapped

    return decorator


def to_response(error: Exception) -> HttpResponse:
    """The response to an error raised while answering an API request. An error that is not
    the client's (a bug) is re-raised, for Django to log and answer as it answers any 500."""
    if isinstance(error, Http404):
        error = NotFound(gettext("There is nothing at this address."))
    elif isinstance(error, RequestDataTooBig):
        error = _too_large()
    elif isinstance(error, UnreadablePostError):
        error = InvalidRequest(gettext("The body could not be read: the client went away."))
    if not isinstance(error, QuickScaleError):
        raise error
    headers = {}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = ", ".join(error.allowed)
    elif isinstance(error, (RateLimited, QueueUnavailable)):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return error_response(error, headers=headers)


def _too_large() -> PayloadTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return PayloadTooLarge(
        gettext("The body is larger than %(limit)s bytes.") % {"limit": limit},
        details={"max_bytes": limit},
    )


def _with_body(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return view(request, *args, body=read_json(request), **kwargs)

    return wrapped


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's body as a JSON object; an empty body is ``{}``.

    Django reads ``Content-Length`` as an integer before it reads a body, so a malformed one is
    refused here first, as is a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (before it is read).
    """
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not (isinstance(length, str) and length.isascii() and length.isdigit()):
        raise InvalidRequest(
            gettext("The Content-Length header is not a number."),
            details={"header": "Content-Length"},
        )
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and int(length) > limit:
        raise _too_large()
    raw = request.body
    if not raw:
        return {}
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            gettext("Send the body as JSON, with 'Content-Type: application/json'."),
            details={"content_type": request.content_type or None},
        )
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            gettext("JSON bodies must be encoded in UTF-8."), details={"charset": charset}
        )
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        # ValueError covers malformed JSON, bad UTF-8, NaN/Infinity and numbers too long to
        # convert; RecursionError a pathologically nested document.
        raise InvalidJSON(
            gettext("The body is not valid JSON."), details={"reason": str(error)[:200]}
        ) from None
    if not isinstance(data, dict):
        raise InvalidJSON(
            gettext("The body must be a JSON object, not %(type)s.")
            % {"type": type(data).__name__},
            details={"reason": "not an object"},
        )
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")

"""Errors only the API raises, about the HTTP request itself; each has a stable ``code``.

Errors of the operations behind the API (credits, services, keys) are raised by their own apps;
``quickscale.api.decorators.api_view`` turns every one of them into a response.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext

from quickscale.core.errors import QuickScaleError


class APIError(QuickScaleError):
    """The base of the API's own errors: a bad request (400) unless a subclass says otherwise."""

    code = "bad_request"
    status = 400


class InvalidJSON(APIError):
    """The body is not JSON, or not a JSON object."""

    code = "invalid_json"


class InvalidRequest(APIError):
    """The request is well-formed JSON but not what the endpoint takes (an unknown field, a bad
    header)."""

    code = "invalid_request"


class InvalidParameter(APIError):
    """A query parameter (``limit``, ``cursor``, ``since``) has a value the endpoint refuses."""

    code = "invalid_parameter"


class NotFound(APIError):
    """Nothing at this address, or nothing of the caller's (another user's run is not theirs to
    see)."""

    code = "not_found"
    status = 404


class MethodNotAllowed(APIError):
    """The endpoint does not take this method; the response's ``Allow`` names the one it takes."""

    code = "method_not_allowed"
    status = 405

    def __init__(self, method: str, allowed: Iterable[str]) -> None:
        self.allowed = sorted(allowed)
        super().__init__(
            gettext("%(method)s is not allowed here; use %(allowed)s.")
            % {"method": method, "allowed": ", ".join(self.allowed)},
            details={"allowed": self.allowed},
        )


class PayloadTooLarge(APIError):
    """The body is larger than Django accepts (``DATA_UPLOAD_MAX_MEMORY_SIZE``)."""

    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(APIError):
    """The body is not sent as ``application/json``, or not in UTF-8."""

    code = "unsupported_media_type"
    status = 415


class CSRFFailed(APIError):
    """A request without an API key (so authenticated, if at all, by a session cookie) failed
    Django's CSRF check."""

    code = "csrf_failed"
    status = 403

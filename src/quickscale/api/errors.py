"""Errors only the API raises, about the HTTP request itself; each has a stable ``code``.

Errors of the operations behind the API (credits, services, keys) are raised by their own apps;
``quickscale.api.decorators.api_view`` turns every one of them into a response.
"""

from __future__ import annotations

from collections.abc import Iterable

from quickscale.core.errors import QuickScaleError


class APIError(QuickScaleError):
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
    code = "not_found"
    status = 404


class MethodNotAllowed(APIError):
    code = "method_not_allowed"
    status = 405

    def __init__(self, method: str, allowed: Iterable[str]) -> None:
        self.allowed = sorted(allowed)
        super().__init__(
            f"{method} is not allowed here; use {', '.join(self.allowed)}.",
            details={"allowed": self.allowed},
        )


class PayloadTooLarge(APIError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(APIError):
    code = "unsupported_media_type"
    status = 415


class CSRFFailed(APIError):
    """A request without an API key (so authenticated, if at all, by a session cookie) failed
    Django's CSRF check."""

    code = "csrf_failed"
    status = 403

"""Errors of API key authentication and authorisation, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import QuickScaleError


class AuthenticationFailed(QuickScaleError):
    """No usable key: missing, malformed, unknown, wrong, revoked, expired or not allowed from
    this address. The message says which, without revealing whether a key id exists."""

    code = "authentication_failed"
    status = 401


class PermissionDenied(QuickScaleError):
    """The key is valid but lacks a scope the request needs."""

    code = "permission_denied"
    status = 403


class RateLimited(QuickScaleError):
    """Over a key's requests a minute, or over an address's failed authentications; the client
    may retry after ``retry_after`` seconds."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class RateLimitUnavailable(QuickScaleError):
    """The rate limits' cache cannot be reached and ``QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN``
    is off: the request is refused, not served uncounted."""

    code = "rate_limit_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class InvalidKeyArgument(QuickScaleError):
    """A key operation was given a value it cannot take (a bad scope, network, name...);
    ``details["field"]`` names the argument where there is one."""

    code = "invalid_argument"
    status = 400

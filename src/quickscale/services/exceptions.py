"""Errors of the services framework, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import QuickScaleError


class ServiceError(QuickScaleError):
    """Base class of the errors of the services framework."""

    code = "service_error"


class ServiceNotFound(ServiceError):
    """No service is registered with the slug; ``details["service"]`` gives it."""

    code = "service_not_found"
    status = 404


class ServiceDisabled(ServiceError):
    """Staff switched the service off in the catalog (or it is not configured)."""

    code = "service_disabled"
    status = 409


class InvalidInput(ServiceError):
    """The input failed the service's form or ``validate``; ``details`` maps each field to its
    messages (``"__all__"`` for errors of the whole input)."""

    code = "invalid_input"
    status = 400


class ServiceTimeout(ServiceError):
    """The service did not finish within its timeout (or outlived its hold): the run fails
    and nothing is charged."""

    code = "service_timeout"
    status = 504


class QueueUnavailable(ServiceError):
    """A background run could not be handed to the task backend (its store cannot be reached).
    The run was failed at no cost and its idempotency key freed: the same request may be sent
    again, with the same key, after ``retry_after`` seconds."""

    code = "queue_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int, run: int) -> None:
        super().__init__(message, details={"retry_after": retry_after, "run": run})
        self.retry_after = retry_after

"""The one exception family of the suite.

Every error a caller can cause carries a stable ``code``; the API and the views map codes to
responses in one place, so the code is part of the public contract and never changes meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.functional import lazy


def _built(build: Callable[[], str]) -> str:
    return build()


_lazily_built = lazy(_built, str)


def lazy_message(build: Callable[[], str]) -> str:
    """A message built by ``build`` (say ``lambda: ngettext(...) % {...}``) each time it is
    read, in the language active then. An error that may be both shown to the person who caused
    it and stored (a failed run's ``error``) takes one, so each reader gets their own language.
    """
    message: str = _lazily_built(build)
    return message


class QuickScaleError(Exception):
    """Base class of every error the suite raises on purpose.

    ``message`` may be a lazy translation (``gettext_lazy``, :data:`lazy_message`): it is then
    read in the language active when it is read.
    """

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, details: Any = None, code: str | None = None) -> None:
        super().__init__(message)
        self._message = message
        self.details = details
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The message, in the language active now."""
        return str(self._message)

    def as_dict(self) -> dict[str, Any]:
        """The JSON error shape shared by every quickscale endpoint."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ConfigurationError(QuickScaleError):
    """A feature was used while its settings are incomplete."""

    code = "not_configured"
    status = 503


class DatabaseUnavailable(QuickScaleError):
    """The database cannot be reached (down, restarting, out of connections): the request may
    succeed if sent again a little later."""

    code = "database_unavailable"
    status = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after

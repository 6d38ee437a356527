"""Errors of ``quickscale.audit``, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import QuickScaleError


class AuditError(QuickScaleError):
    """Base class of the audit log's errors."""

    code = "audit_error"


class AppendOnly(AuditError):
    """Something tried to change or delete a recorded event."""

    code = "append_only"
    status = 405


class InvalidAuditArgument(AuditError):
    """``record()``, a command or a search got a value it cannot use."""

    code = "invalid_argument"


class NotSupported(AuditError):
    """The feature needs PostgreSQL (row-level capture, database-enforced immutability)."""

    code = "not_supported"

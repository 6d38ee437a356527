"""Errors of the credit ledger, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import QuickScaleError


class CreditError(QuickScaleError):
    """Base class of the ledger's errors."""

    code = "credit_error"


class InvalidAmount(CreditError):
    code = "invalid_amount"
    status = 400


class InsufficientCredits(CreditError):
    code = "insufficient_credits"
    status = 402


class IdempotencyConflict(CreditError):
    """The idempotency key was used before for a different operation or payload."""

    code = "idempotency_conflict"
    status = 409


class InvalidOperation(CreditError):
    """The operation does not apply to the object in its current state (e.g. capturing a
    released hold, refunding more than was spent)."""

    code = "invalid_operation"
    status = 409


class InvalidArgument(CreditError):
    code = "invalid_argument"
    status = 400


class LedgerCorrupted(CreditError):
    """The stored totals disagree with the grants: only a write outside the ledger does that.
    ``manage.py credits verify`` names what is wrong."""

    code = "ledger_corrupted"
    status = 500

"""Errors of the credit ledger, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import QuickScaleError


class CreditError(QuickScaleError):
    """Base class of the ledger's errors."""

    code = "credit_error"


class InvalidAmount(CreditError):
    """An amount the ledger refuses: not a ``Decimal`` or integer, not above zero, larger than
    ``QUICKSCALE_CREDITS_MAX_AMOUNT`` or with too many decimal places, or one that would take
    the balance past its limit. ``details["field"]`` names it."""

    code = "invalid_amount"
    status = 400


class InsufficientCredits(CreditError):
    """The account has fewer available credits than the operation needs; ``details`` gives
    both (``available`` and ``required``)."""

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
    """An argument other than an amount that the ledger cannot use (an unknown owner, an
    adjustment without a reason, a naive ``expires_at``, metadata that is not JSON...)."""

    code = "invalid_argument"
    status = 400


class LedgerCorrupted(CreditError):
    """The stored totals disagree with the grants: only a write outside the ledger does that.
    ``manage.py credits verify`` names what is wrong."""

    code = "ledger_corrupted"
    status = 500

"""The credit ledger in the Django admin: read-only views of every table, and "Adjust credits".

Nothing here writes the credit tables directly: the only change the admin can make is an
adjustment through :func:`quickscale.credits.ledger.adjust`, which records who made it and
why. Every changelist runs a fixed number of queries whatever the number of rows (balances are
stored, owners are joined, full result counts are skipped), so the pages stay usable at
millions of ledger entries.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin

from quickscale.credits.admin.accounts import CreditAccountAdmin
from quickscale.credits.admin.common import (
    MAX_BULK_ADJUST,
    RECENT_ROWS,
    AccountFilter,
    AdjustCreditsForm,
    ExpiredFilter,
    ReadOnlyAdmin,
    credits_column,
    shown,
)
from quickscale.credits.admin.entries import (
    CreditGrantAdmin,
    CreditHoldAdmin,
    CreditTransactionAdmin,
)
from quickscale.credits.models import CreditAccount, CreditGrant, CreditHold, CreditTransaction

__all__ = [
    "MAX_BULK_ADJUST",
    "RECENT_ROWS",
    "AccountFilter",
    "AdjustCreditsForm",
    "CreditAccountAdmin",
    "CreditGrantAdmin",
    "CreditHoldAdmin",
    "CreditTransactionAdmin",
    "ExpiredFilter",
    "ReadOnlyAdmin",
    "credits_column",
    "shown",
]

# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(CreditAccount, CreditAccountAdmin)
    admin.site.register(CreditGrant, CreditGrantAdmin)
    admin.site.register(CreditHold, CreditHoldAdmin)
    admin.site.register(CreditTransaction, CreditTransactionAdmin)

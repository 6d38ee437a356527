"""The admins of the ledger's rows: grants, holds and entries, read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from quickscale.core.users import owner_search_fields
from quickscale.credits.admin.common import (
    AccountFilter,
    ExpiredFilter,
    ReadOnlyAdmin,
    credits_column,
)
from quickscale.credits.models import CreditGrant, CreditHold, CreditTransaction

if TYPE_CHECKING:
    GrantAdminBase = admin.ModelAdmin[CreditGrant]
    HoldAdminBase = admin.ModelAdmin[CreditHold]
    TransactionAdminBase = admin.ModelAdmin[CreditTransaction]
else:
    GrantAdminBase = HoldAdminBase = TransactionAdminBase = admin.ModelAdmin


class CreditGrantAdmin(ReadOnlyAdmin, GrantAdminBase):
    """The grants: where the credits came from, what is left of each and when it expires."""

    list_display = (
        "id",
        "owner",
        "source",
        "amount_credits",
        "remaining_credits",
        "priority",
        "expires_at",
        "expired_at",
        "created_at",
    )
    list_filter = (AccountFilter, "source", ExpiredFilter)
    list_select_related = ("account__owner",)
    ordering = ("-id",)
    fields = (
        "account",
        "source",
        "amount_credits",
        "remaining_credits",
        "priority",
        "expires_at",
        "expired_at",
        "reference",
        "created_at",
    )
    readonly_fields = fields
    amount_credits = credits_column("amount", _("amount"))
    remaining_credits = credits_column("remaining", _("remaining"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [*owner_search_fields("account__owner", "="), "=reference"]

    @admin.display(description=_("owner"))
    def owner(self, grant: CreditGrant) -> Any:
        return grant.account.owner


class CreditHoldAdmin(ReadOnlyAdmin, HoldAdminBase):
    """The holds: credits reserved for work under way, and what was captured of each."""

    list_display = (
        "id",
        "owner",
        "amount_credits",
        "captured_credits",
        "state",
        "reference",
        "expires_at",
        "created_at",
        "settled_at",
    )
    list_filter = (AccountFilter, "state")
    list_select_related = ("account__owner",)
    ordering = ("-id",)
    fields = (
        "account",
        "amount_credits",
        "captured_credits",
        "state",
        "allocations",
        "reference",
        "expires_at",
        "created_at",
        "settled_at",
    )
    readonly_fields = fields
    amount_credits = credits_column("amount", _("amount"))
    captured_credits = credits_column("captured", _("captured"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [*owner_search_fields("account__owner", "="), "=reference"]

    @admin.display(description=_("owner"))
    def owner(self, reservation: CreditHold) -> Any:
        return reservation.account.owner


class CreditTransactionAdmin(ReadOnlyAdmin, TransactionAdminBase):
    """The ledger entries, found by owner, reference or idempotency key."""

    list_display = (
        "id",
        "created_at",
        "owner",
        "kind",
        "amount_credits",
        "balance_after_credits",
        "held_after_credits",
        "reason",
        "actor",
    )
    # No date_hierarchy: it runs a query over the whole table to build its links.
    list_filter = (AccountFilter, "kind", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("account__owner", "actor")
    ordering = ("-id",)
    fields = (
        "account",
        "kind",
        "amount_credits",
        "held_delta_credits",
        "balance_after_credits",
        "held_after_credits",
        "allocations",
        "grant",
        "hold",
        "refund_of",
        "actor",
        "reason",
        "reference",
        "metadata",
        "idempotency_key",
        "created_at",
    )
    readonly_fields = fields
    amount_credits = credits_column("amount", _("amount"))
    held_delta_credits = credits_column("held_delta", _("held change"))
    balance_after_credits = credits_column("balance_after", _("balance after"))
    held_after_credits = credits_column("held_after", _("held after"))

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return [
            *owner_search_fields("account__owner", "="),
            "=reference",
            "=idempotency_key",
        ]

    @admin.display(description=_("owner"))
    def owner(self, entry: CreditTransaction) -> Any:
        return entry.account.owner

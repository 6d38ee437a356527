"""What the credit ledger's admin pages share: read-only admins, amount columns, filters and
the "Adjust credits" form."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from quickscale.core.forms import OneTimeForm
from quickscale.credits.amounts import parse_amount
from quickscale.credits.exceptions import InvalidAmount
from quickscale.credits.models import CreditAccount

#: The most accounts one "Adjust credits" action changes (in one transaction); larger batches
#: belong to the ``credits`` management command.
MAX_BULK_ADJUST = 100
#: Entries and live grants shown on an account's page; the full lists are one click away.
RECENT_ROWS = 10


def shown(value: Decimal) -> Decimal:
    """``value`` with the configured decimal places (the database columns keep eight)."""
    return value.quantize(Decimal(1).scaleb(-settings.QUICKSCALE_CREDITS_DECIMAL_PLACES))


def credits_column(name: str, description: Any) -> Callable[[Any, Any], Decimal | None]:
    """An admin column (or read-only field) showing the amount field ``name`` as people
    expect it: ``12.50`` rather than the stored ``12.50000000``."""

    def column(model_admin: Any, obj: Any) -> Decimal | None:
        value = getattr(obj, name)
        return None if value is None else shown(value)

    return admin.display(description=description, ordering=name)(column)


class AdjustCreditsForm(OneTimeForm):
    """The "Adjust credits" form: a signed amount (``25`` adds credits, ``-25`` removes
    available ones) and the reason recorded with it."""

    key_prefix = "admin-adjust"

    amount = forms.CharField(
        label=_("Amount"),
        max_length=40,
        help_text=_("25 adds credits that never expire; -25 removes available credits."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Recorded on the ledger entry with your name."),
    )

    def clean_amount(self) -> Decimal:
        text: str = self.cleaned_data["amount"]
        negative = text.startswith("-")
        if negative or text.startswith("+"):
            text = text[1:]
        try:
            value = parse_amount(text)
        except InvalidAmount as error:
            raise forms.ValidationError(error.message, code=error.code) from None
        return -value if negative else value


class AccountFilter(admin.SimpleListFilter):
    """Narrow a ledger table to one account (``?account=<id>``), as linked from the account.

    It lists no choices of its own: enumerating accounts would cost a query per page over
    every account. It only shows, and lets you clear, the account you came from.
    """

    title = _("account")
    parameter_name = "account"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not value or not value.isdigit():
            return []
        account = CreditAccount.objects.select_related("owner").filter(pk=value).first()
        return [(value, str(account.owner) if account else f"#{value}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is not None:
            queryset = queryset.filter(account_id=int(value))
        return queryset


class ExpiredFilter(admin.SimpleListFilter):
    """Grants whose expiry has passed ("Yes"), or that have not expired yet or never will
    ("No")."""

    title = _("expired")
    parameter_name = "expired"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "yes":
            queryset = queryset.filter(expires_at__lte=now)
        elif self.value() == "no":
            queryset = queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return queryset


class ReadOnlyAdmin:
    """Ledger rows are written by the ledger alone: the admin only shows them."""

    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

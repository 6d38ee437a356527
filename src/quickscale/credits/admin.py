"""The credit ledger in the Django admin: read-only views of every table, and "Adjust credits".

Nothing here writes the credit tables directly: the only change the admin can make is an
adjustment through :func:`quickscale.credits.ledger.adjust`, which records who made it and
why. Every changelist runs a fixed number of queries whatever the number of rows (balances are
stored, owners are joined, full result counts are skipped), so the pages stay usable at
millions of ledger entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_value, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from quickscale.core.errors import QuickScaleError
from quickscale.core.forms import OneTimeForm
from quickscale.core.users import owner_search_fields
from quickscale.credits import ledger
from quickscale.credits.amounts import parse_amount
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits, InvalidAmount
from quickscale.credits.models import CreditAccount, CreditGrant, CreditHold, CreditTransaction

if TYPE_CHECKING:
    AccountAdminBase = admin.ModelAdmin[CreditAccount]
    GrantAdminBase = admin.ModelAdmin[CreditGrant]
    HoldAdminBase = admin.ModelAdmin[CreditHold]
    TransactionAdminBase = admin.ModelAdmin[CreditTransaction]
else:
    AccountAdminBase = GrantAdminBase = HoldAdminBase = TransactionAdminBase = admin.ModelAdmin

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


class CreditAccountAdmin(ReadOnlyAdmin, AccountAdminBase):
    """Each user's balance, held and available credits, with their live grants and latest
    entries; "Adjust credits" changes one account (its button) or the selected ones through
    the ledger."""

    list_display = ("owner", "balance_credits", "held_credits", "available", "updated_at")
    list_select_related = ("owner",)
    ordering = ("-id",)
    fields = (
        "owner",
        "balance_credits",
        "held_credits",
        "available",
        "created_at",
        "updated_at",
        "ledger_links",
        "live_grants",
        "recent_transactions",
    )
    readonly_fields = fields
    actions = ("adjust_credits",)
    adjust_template = "admin/quickscale_credits/creditaccount/adjust_credits.html"

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return owner_search_fields("owner")

    def has_adjust_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Adjusting needs the model's change permission (the account form itself is
        read-only: a saved form would write back a balance read before the save)."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return request.user.has_perm(f"{opts.app_label}.{codename}")

    balance_credits = credits_column("balance", _("balance"))
    held_credits = credits_column("held", _("held"))

    @admin.display(description=_("available"))
    def available(self, account: CreditAccount) -> Decimal:
        balance: Decimal = account.balance
        return shown(balance - account.held)

    @admin.display(description=_("ledger"))
    def ledger_links(self, account: CreditAccount) -> SafeString:
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            self._ledger_url(CreditTransaction, account),
            _("All transactions"),
            self._ledger_url(CreditGrant, account),
            _("All grants"),
            self._ledger_url(CreditHold, account),
            _("All holds"),
        )

    def _ledger_url(self, model: type[Any], account: CreditAccount) -> str:
        """The changelist of ``model`` narrowed to ``account`` by :class:`AccountFilter`."""
        opts = model._meta
        url = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_changelist",
            current_app=self.admin_site.name,
        )
        return f"{url}?{AccountFilter.parameter_name}={account.pk}"

    @admin.display(description=_("live grants"))
    def live_grants(self, account: CreditAccount) -> SafeString:
        grants = (
            account.grants.filter(remaining__gt=0)
            .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
            .order_by("-priority", F("expires_at").asc(nulls_last=True), "id")[:RECENT_ROWS]
        )
        return _table(
            (_("source"), _("remaining"), _("amount"), _("expires")),
            (
                (
                    g.get_source_display(),
                    shown(g.remaining),
                    shown(g.amount),
                    g.expires_at or _("never"),
                )
                for g in grants
            ),
        )

    @admin.display(description=_("recent transactions"))
    def recent_transactions(self, account: CreditAccount) -> SafeString:
        entries = account.transactions.order_by("-id")[:RECENT_ROWS]
        return _table(
            (_("when"), _("kind"), _("amount"), _("balance after"), _("reason")),
            (
                (
                    e.created_at,
                    e.get_kind_display(),
                    shown(e.amount),
                    shown(e.balance_after),
                    e.reason,
                )
                for e in entries
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        return [
            path(
                "<path:object_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name=f"{opts.app_label}_{opts.model_name}_adjust",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {"can_adjust": self.has_adjust_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, context)

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Adjust one account's credits (its "Adjust credits" button)."""
        if not self.has_adjust_permission(request):
            raise PermissionDenied
        account = self.get_object(request, unquote(object_id))
        if account is None:
            self.message_user(
                request,
                _("There is no credit account with the id “%(id)s”.") % {"id": object_id},
                messages.WARNING,
            )
            return HttpResponseRedirect(self._url("changelist"))
        if request.method == "POST":
            form = AdjustCreditsForm(request.POST)
            if form.is_valid():
                entries = self._adjust(request, form, [account])
                if entries is not None:
                    self._report(request, entries, [account])
                    return HttpResponseRedirect(self._url("change", account.pk))
        else:
            form = AdjustCreditsForm()
        return self._render_adjust(request, form, [account], original=account)

    @admin.action(description=_("Adjust credits of the selected accounts"), permissions=["adjust"])
    def adjust_credits(
        self, request: HttpRequest, queryset: QuerySet[CreditAccount]
    ) -> HttpResponse | None:
        accounts = list(queryset.select_related("owner").order_by("pk")[: MAX_BULK_ADJUST + 1])
        if len(accounts) > MAX_BULK_ADJUST:
            self.message_user(
                request,
                _(
                    "Select at most %(limit)d accounts to adjust at once; use the "
                    "“credits” management command for more."
                )
                % {"limit": MAX_BULK_ADJUST},
                messages.ERROR,
            )
            return None
        if "apply" in request.POST:
            form = AdjustCreditsForm(request.POST)
            if form.is_valid():
                entries = self._adjust(request, form, accounts)
                if entries is not None:
                    self._report(request, entries, accounts)
                    return None
        else:
            form = AdjustCreditsForm()
        return self._render_adjust(request, form, accounts, selected=True)

    def _url(self, view: str, *args: Any) -> str:
        opts = self.opts
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_{view}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _adjust(
        self, request: HttpRequest, form: AdjustCreditsForm, accounts: list[CreditAccount]
    ) -> list[CreditTransaction] | None:
        """Adjust every account, or none: the ledger's errors become form errors."""
        amount: Decimal = form.cleaned_data["amount"]
        current = accounts[0]
        try:
            # Accounts come in id order, so two batches never wait on each other's locks.
            with transaction.atomic():
                entries = []
                for current in accounts:
                    entries.append(
                        ledger.adjust(
                            current.owner_id,
                            amount,
                            reason=form.cleaned_data["reason"],
                            actor=request.user,
                            idempotency_key=form.idempotency_key,
                        )
                    )
        except IdempotencyConflict:
            form.add_error(
                None,
                _(
                    "This form was already submitted with a different amount. Check the "
                    "balance, then submit again to make another adjustment."
                ),
            )
            form.renew_token()
        except QuickScaleError as error:
            message = error.message
            if len(accounts) > 1:
                message = f"{current.owner}: {message}"
            form.add_error(_error_field(error, form), message)
        else:
            return entries
        return None

    def _report(
        self, request: HttpRequest, entries: list[CreditTransaction], accounts: list[CreditAccount]
    ) -> None:
        change = f"{shown(entries[0].amount):+}"
        if len(entries) == 1:
            message = _(
                "Adjusted the credits of %(owner)s by %(change)s: the balance is now %(balance)s."
            ) % {
                "owner": accounts[0].owner,
                "change": change,
                "balance": shown(entries[0].balance_after),
            }
        else:
            message = ngettext(
                "Adjusted the credits of %(count)d account by %(change)s.",
                "Adjusted the credits of %(count)d accounts by %(change)s.",
                len(entries),
            ) % {"count": len(entries), "change": change}
        self.message_user(request, message, messages.SUCCESS)

    def _render_adjust(
        self,
        request: HttpRequest,
        form: AdjustCreditsForm,
        accounts: list[CreditAccount],
        *,
        original: CreditAccount | None = None,
        selected: bool = False,
    ) -> TemplateResponse:
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust credits"),
            "subtitle": str(original.owner) if original else None,
            "opts": opts,
            "app_label": opts.app_label,
            "original": original,
            "accounts": [
                {
                    "owner": account.owner,
                    "balance": shown(account.balance),
                    "held": shown(account.held),
                    "available": shown(account.balance - account.held),
                }
                for account in accounts
            ],
            "form": form,
            "selected": [account.pk for account in accounts] if selected else [],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            [
                f"admin/{opts.app_label}/{opts.model_name}/adjust_credits.html",
                self.adjust_template,
            ],
            context,
        )


def _error_field(error: QuickScaleError, form: forms.Form) -> str | None:
    """The form field a ledger error is about, or ``None`` for the whole form."""
    if isinstance(error, InsufficientCredits):
        return "amount"
    field = error.details.get("field") if isinstance(error.details, dict) else None
    return field if field in form.fields else None


def _table(headers: Sequence[Any], rows: Any) -> SafeString:
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "", "<td>{}</td>", ((display_for_value(cell, "-"),) for cell in row)
                ),
            )
            for row in rows
        ),
    )
    if not body:
        return format_html("<span>{}</span>", _("None"))
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<th>{}</th>", ((h,) for h in headers)),
        body,
    )


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


# Registered only with the admin installed: the default site cannot exist without it, and
# this module must still import in a project that leaves the admin out.
if apps.is_installed("django.contrib.admin"):
    admin.site.register(CreditAccount, CreditAccountAdmin)
    admin.site.register(CreditGrant, CreditGrantAdmin)
    admin.site.register(CreditHold, CreditHoldAdmin)
    admin.site.register(CreditTransaction, CreditTransactionAdmin)

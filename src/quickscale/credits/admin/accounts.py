"""The credit accounts' admin: balances, recent activity and the "Adjust credits" action."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
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
from quickscale.core.users import owner_search_fields
from quickscale.credits import ledger
from quickscale.credits.admin.common import (
    MAX_BULK_ADJUST,
    RECENT_ROWS,
    AccountFilter,
    AdjustCreditsForm,
    ReadOnlyAdmin,
    credits_column,
    shown,
)
from quickscale.credits.exceptions import IdempotencyConflict, InsufficientCredits
from quickscale.credits.models import CreditAccount, CreditGrant, CreditHold, CreditTransaction

if TYPE_CHECKING:
    AccountAdminBase = admin.ModelAdmin[CreditAccount]
else:
    AccountAdminBase = admin.ModelAdmin


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

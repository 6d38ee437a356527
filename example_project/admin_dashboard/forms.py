"""The dashboard's forms. Amounts are parsed by the library's own functions, so a form refuses
exactly what the ledger would refuse, with the ledger's message naming the field."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from admin_dashboard.analytics import start_of
from quickscale.billing.forms import RefundForm as BillingRefundForm
from quickscale.billing.models import Payment, PaymentStatus
from quickscale.core import forms as core_forms
from quickscale.credits.amounts import parse_amount, to_amount
from quickscale.credits.exceptions import InvalidAmount
from quickscale.credits.models import CreditTransaction, GrantSource, TransactionKind


class OneTimeForm(core_forms.OneTimeForm):
    """The dashboard's one-time forms: their keys start "dashboard-"."""

    key_prefix = "dashboard"


def amount_field(help_text: Any) -> forms.CharField:
    return forms.CharField(
        label=_("Amount"),
        max_length=40,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def reason_field() -> forms.CharField:
    return forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Recorded on the ledger entry, with your name."),
    )


def credits_amount(text: str) -> Decimal:
    """A positive number of credits, or the ledger's own error."""
    try:
        return parse_amount(text, field="amount")
    except InvalidAmount as error:
        raise forms.ValidationError(error.message, code=error.code) from None


class GrantCreditsForm(OneTimeForm):
    prefix = "grant"
    key_prefix = "dashboard-grant"
    amount = amount_field(_("Credits to add, e.g. 25 or 12.50."))
    source = forms.ChoiceField(
        label=_("Source"),
        choices=[
            (GrantSource.PROMOTION, _("Promotion")),
            (GrantSource.ADMIN, _("Staff grant")),
        ],
    )
    expires_on = forms.DateField(
        label=_("Expires on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The credits last to the end of this day. Empty: they never expire."),
    )
    reason = reason_field()

    def clean_amount(self) -> Decimal:
        return credits_amount(self.cleaned_data["amount"])

    def clean_expires_on(self) -> date | None:
        day: date | None = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError(
                _("The expiry date must be today or later."), code="past_expiry"
            )
        return day

    @property
    def expires_at(self) -> datetime | None:
        day = self.cleaned_data["expires_on"]
        return None if day is None else timezone.make_aware(datetime.combine(day, time.max))


class DeductCreditsForm(OneTimeForm):
    prefix = "deduct"
    key_prefix = "dashboard-deduct"
    amount = amount_field(_("Available credits to remove, e.g. 25 or 12.50."))
    reason = reason_field()

    def clean_amount(self) -> Decimal:
        return credits_amount(self.cleaned_data["amount"])


class RevokeKeyForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Email or name"), required=False, max_length=254)

    def filter(self, users: QuerySet[Any]) -> QuerySet[Any]:
        """Users whose email or name contains every word searched for."""
        for word in self.cleaned_data.get("q", "").split():
            users = users.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
            )
        return users


class DateRangeForm(forms.Form):
    """Two optional days, both included."""

    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("“Until” must be on or after “From”."))
        return data

    def in_range(self, queryset: QuerySet[Any], field: str) -> QuerySet[Any]:
        if self.cleaned_data.get("since"):
            queryset = queryset.filter(**{f"{field}__gte": start_of(self.cleaned_data["since"])})
        if self.cleaned_data.get("until"):
            end = start_of(self.cleaned_data["until"] + timedelta(days=1))
            queryset = queryset.filter(**{f"{field}__lt": end})
        return queryset


#: Every kind of entry but the bookkeeping ``allocation``, which changes no balance.
KINDS = [(value, label) for value, label in TransactionKind.choices if value != "allocation"]


class LedgerFilterForm(DateRangeForm):
    email = forms.EmailField(label=_("User's email"), required=False)
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=[("", _("Any")), *KINDS])
    source = forms.ChoiceField(
        label=_("Source"),
        required=False,
        choices=[("", _("Any")), *GrantSource.choices],
        help_text=_("Entries that added credits of this source."),
    )
    #: Keyset pagination: entries older than this one.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    field_order = ["email", "kind", "source", "since", "until"]

    def filter(self, entries: QuerySet[CreditTransaction]) -> QuerySet[CreditTransaction]:
        data = self.cleaned_data
        if data.get("email"):
            entries = entries.filter(account__owner__email__iexact=data["email"])
        if data.get("kind"):
            entries = entries.filter(kind=data["kind"])
        if data.get("source"):
            entries = entries.filter(grant__source=data["source"])
        return self.in_range(entries, "created_at")


class PaymentFilterForm(forms.Form):
    q = forms.CharField(label=_("User's email"), required=False, max_length=254)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any")), *PaymentStatus.choices]
    )

    def filter(self, payments: QuerySet[Payment]) -> QuerySet[Payment]:
        if self.cleaned_data.get("q"):
            payments = payments.filter(user__email__icontains=self.cleaned_data["q"].strip())
        if self.cleaned_data.get("status"):
            payments = payments.filter(status=self.cleaned_data["status"])
        return payments


class ServicePriceForm(forms.Form):
    price_override = forms.CharField(
        label=_("Price override"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        help_text=_("Empty: the service's own price."),
    )

    def clean_price_override(self) -> Decimal | None:
        text = self.cleaned_data["price_override"].strip()
        if not text:
            return None
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise forms.ValidationError(
                _("price is not a number: %(text)s.") % {"text": repr(text)}, code="invalid"
            ) from None
        try:
            return to_amount(value, field="price", allow_zero=True)
        except InvalidAmount as error:
            raise forms.ValidationError(error.message, code=error.code) from None


class RefundForm(BillingRefundForm):
    """Billing's refund form, with the dashboard's keys and the payment's currency named."""

    key_prefix = "dashboard-refund"

    def __init__(self, *args: Any, payment: Payment, **kwargs: Any) -> None:
        super().__init__(*args, currency=payment.currency, **kwargs)
        self.payment = payment
        self.fields["amount"].help_text = _(
            "In %(currency)s. Empty: all that is left to refund."
        ) % {"currency": payment.currency.upper()}

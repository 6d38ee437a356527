"""Billing's forms, for the admin and a host's own staff pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from quickscale.billing.models import minor_unit_exponent
from quickscale.core.forms import OneTimeForm

__all__ = ["RefundForm"]


class RefundForm(OneTimeForm):
    """A refund of a payment: all that is left, or an amount in its currency; a reason."""

    key_prefix = "quickscale-refund"

    amount = forms.CharField(
        label=_("Amount"),
        max_length=40,
        required=False,
        help_text=_(
            "In the payment's currency, e.g. 3.50. Leave it empty to refund all that is left."
        ),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Kept with the refund at Stripe and in the audit log, with your name."),
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self) -> int | None:
        """The amount in the currency's minor units (cents), or ``None`` for all that is left."""
        text = str(self.cleaned_data["amount"]).strip()
        if not text:
            return None
        places = minor_unit_exponent(self.currency)
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        minor = value.scaleb(places) if value.is_finite() else value
        if not minor.is_finite() or minor != minor.to_integral_value() or minor <= 0:
            raise forms.ValidationError(
                _("Enter an amount of more than 0 with at most %(places)d decimal places.")
                % {"places": places},
                code="invalid_amount",
            )
        return int(minor)

"""``OneTimeForm``: a form that changes something once, however often it is submitted.

A token is drawn when the form is shown and comes back with it; the view hands
:attr:`OneTimeForm.idempotency_key` to the operation (the ledger, Stripe), which does nothing the
second time a double click, a reload or a retry sends the same form. The credits and billing
admins use it, and so can a host's own pages.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

__all__ = ["TOKEN_PATTERN", "OneTimeForm", "new_token"]

#: What :func:`new_token` makes; anything else sent back is refused.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    """A fresh form token (192 random bits)."""
    return secrets.token_urlsafe(24)


class OneTimeForm(forms.Form):
    """A form with a hidden one-time ``token``; subclass it and set :attr:`key_prefix`."""

    #: Keeps the keys of each kind of form apart (a ledger's keys are unique per account).
    key_prefix = "form"
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if not args and "data" not in kwargs:
            kwargs.setdefault("initial", {}).setdefault("token", new_token())
        super().__init__(*args, **kwargs)

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"]
        if not TOKEN_PATTERN.fullmatch(token):
            raise forms.ValidationError(
                _("This form is out of date: reload the page and submit it again."),
                code="bad_token",
            )
        return token

    @property
    def idempotency_key(self) -> str:
        """The key to hand the operation: :attr:`key_prefix` and the form's token. Read it on a
        valid form only."""
        return f"{self.key_prefix}-{self.cleaned_data['token']}"

    def renew_token(self) -> None:
        """Give a re-displayed form a new token, so sending it again is a new request."""
        name = self.add_prefix("token")
        if isinstance(self.data, QueryDict):  # keeps the other fields' lists of values
            renewed = self.data.copy()
            renewed[name] = new_token()
            self.data = renewed
        else:
            self.data = {**self.data, name: new_token()}

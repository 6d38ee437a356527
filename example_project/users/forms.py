"""Forms of the account area: the profile, and the confirmation that closes an account."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _


class ProfileForm(forms.ModelForm):
    """The name shown to the site's team; the email address has allauth's own page, which
    confirms a new address before using it."""

    class Meta:
        model = get_user_model()
        fields = ["first_name", "last_name"]


class CloseAccountForm(forms.Form):
    """Typing the address, rather than ticking a box, makes closing an account a deliberate
    act and not a slip of the mouse."""

    email = forms.EmailField(label=_("Your email address"))

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["email"].help_text = _(
            "Type %(email)s to confirm that you want to close this account."
        ) % {"email": user.email}

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"]
        if email.strip().lower() != self.user.email.lower():
            raise forms.ValidationError(
                _("This is not the address of your account."), code="mismatch"
            )
        return email

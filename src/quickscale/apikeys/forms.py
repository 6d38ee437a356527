"""The form of the keys page: what a person chooses when they create a key."""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from quickscale.apikeys.scopes import SCOPES

EXPIRY_CHOICES = [
    ("", _("Never")),
    ("30", _("In 30 days")),
    ("90", _("In 90 days")),
    ("365", _("In a year")),
]


def scope_choices() -> list[tuple[str, Any]]:
    """The scopes offered on the keys page, with their descriptions (read when the form is
    shown, so a project that adds scopes gets them offered)."""
    return list(SCOPES.items())


def new_form_id() -> str:
    """A random id for one showing of the form, so a form sent twice creates one key."""
    return secrets.token_urlsafe(18)


class CreateKeyForm(forms.Form):
    """A new key's name, scopes, environment and expiry, as a person chooses them."""

    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, so you can tell your keys apart, e.g. “CI”."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("e.g. CI")}),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=scope_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A key can do only what you tick here."),
        error_messages={
            "required": _("Choose at least one scope: a key without scopes can call nothing.")
        },
    )
    environment = forms.ChoiceField(
        label=_("Environment"),
        choices=[("live", _("Live")), ("test", _("Test"))],
        initial="live",
        widget=forms.RadioSelect,
        help_text=_("Written into the key, so a test key is easy to tell from a live one."),
    )
    expires_in_days = forms.TypedChoiceField(
        label=_("Expires"),
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )
    # Drawn when the form is shown: a form submitted twice (a reload of the page that shows
    # the new key, a double click) creates one key, not two. Optional, so a host template that
    # leaves it out still works, without that protection.
    form_id = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("form_id", new_form_id())
        super().__init__(*args, **kwargs)

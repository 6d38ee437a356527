"""``quickscale.core.forms.OneTimeForm``: a form whose token makes its operation happen once."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from quickscale.core.forms import OneTimeForm


class Grant(OneTimeForm):
    key_prefix = "grant"
    tags = forms.MultipleChoiceField(choices=[("a", "a"), ("b", "b")], required=False)


def test_a_form_shown_carries_a_fresh_token_each_time() -> None:
    first, second = Grant().initial["token"], Grant().initial["token"]

    assert first != second
    assert len(first) >= 16


def test_the_idempotency_key_is_the_forms_token_behind_its_prefix() -> None:
    form = Grant({"token": "A" * 32})

    assert form.is_valid()
    assert form.idempotency_key == "grant-" + "A" * 32


def test_a_token_the_form_could_not_have_made_is_refused() -> None:
    form = Grant({"token": "x' OR 1=1 --"})

    assert not form.is_valid()
    assert form.errors["token"] == [
        "This form is out of date: reload the page and submit it again."
    ]


def test_a_form_shown_again_gets_a_new_token_and_keeps_its_other_values() -> None:
    data = QueryDict(mutable=True)
    data.setlist("tags", ["a", "b"])
    data["token"] = "B" * 32
    form = Grant(data)

    form.renew_token()

    assert form.data["token"] != "B" * 32
    assert form.data.getlist("tags") == ["a", "b"]

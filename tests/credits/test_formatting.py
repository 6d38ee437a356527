"""Credit amounts as pages show them: grouped in thousands, decimals only when there are some."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.utils import translation

from quickscale.credits.amounts import for_people


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (D("1000.00"), "1,000"),
        (D("12.5"), "12.50"),
        (D("0.01"), "0.01"),
        (D("1234567.89"), "1,234,567.89"),
        (0, "0"),
        (40, "40"),
    ],
)
def test_amounts_are_grouped_in_thousands_with_decimals_only_when_needed(
    amount: D, shown: str
) -> None:
    assert for_people(amount) == shown


@override_settings(QUICKSCALE_CREDITS_DECIMAL_PLACES=3)
def test_fractional_amounts_show_the_configured_places() -> None:
    assert for_people(D("2.5")) == "2.500"


def test_the_grouping_follows_the_active_language() -> None:
    with translation.override("de"):
        assert for_people(D("1234.5")) == "1.234,50"


def render(source: str, **context: object) -> str:
    return Template("{% load quickscale_credits %}" + source).render(Context(context))


def test_the_credits_filter_formats_an_amount() -> None:
    assert render("{{ amount|credits }}", amount=D("2500.00")) == "2,500"


def test_the_signed_credits_filter_shows_the_direction_of_a_change() -> None:
    shown = render(
        "{{ a|credits:'signed' }} {{ b|credits:'signed' }} {{ c|credits:'signed' }}",
        a=D("40"),
        b=D("-12.5"),
        c=D(0),
    )

    assert shown == "+40 \u221212.50 0"


@pytest.mark.parametrize("value", [None, "", "n/a", True])
def test_a_value_that_is_not_an_amount_is_shown_as_it_is(value: object) -> None:
    assert render("{{ value|credits }}", value=value) == str(value)

"""What a catalog shows as a service's price: fixed, overridden by staff, or computed."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from quickscale.services.execution import catalog_entry, fixed_price
from tests.hostapp.services import Echo, Free, PerWord

pytestmark = pytest.mark.django_db


def test_a_fixed_cost_is_the_catalogs_price() -> None:
    assert fixed_price(Echo(), catalog_entry(Echo)) == D("2.00")


def test_a_price_computed_from_the_input_has_no_catalog_price() -> None:
    assert PerWord().fixed_cost() is None
    assert fixed_price(PerWord(), catalog_entry(PerWord)) is None


def test_the_staffs_override_is_the_catalogs_price_even_for_a_computed_one() -> None:
    entry = catalog_entry(PerWord)
    entry.price_override = D("0.75")

    assert fixed_price(PerWord(), entry) == D("0.75")


def test_a_free_service_costs_zero_not_nothing() -> None:
    assert fixed_price(Free(), catalog_entry(Free)) == D(0)

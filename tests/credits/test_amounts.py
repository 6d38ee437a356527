"""Bad amounts raise ``invalid_amount`` naming the problem, and no write happens."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from quickscale.credits import ledger
from quickscale.credits.amounts import parse_amount, to_amount
from quickscale.credits.exceptions import InvalidAmount
from quickscale.credits.models import CreditAccount, CreditTransaction

BAD_AMOUNTS = [
    pytest.param(D("-1"), "more than zero", id="negative"),
    pytest.param(D("0"), "more than zero", id="zero"),
    pytest.param(D("-0"), "more than zero", id="negative-zero"),
    pytest.param(0, "more than zero", id="int-zero"),
    pytest.param(D("NaN"), "finite", id="nan"),
    pytest.param(D("sNaN"), "finite", id="signalling-nan"),
    pytest.param(D("Infinity"), "finite", id="infinity"),
    pytest.param(D("0.001"), "decimal places", id="too-many-places"),
    pytest.param(D("1.234"), "decimal places", id="three-places"),
    pytest.param(D("1E+30"), "must not exceed", id="too-large"),
    pytest.param(10**12, "must not exceed", id="int-too-large"),
    pytest.param("5", "Decimal or an integer", id="string"),
    pytest.param(5.0, "Decimal or an integer", id="float"),
    pytest.param(True, "Decimal or an integer", id="bool"),
    pytest.param(None, "Decimal or an integer", id="none"),
    pytest.param([5], "Decimal or an integer", id="list"),
]


@pytest.mark.parametrize(("amount", "says"), BAD_AMOUNTS)
@pytest.mark.parametrize("operation", ["grant", "debit", "hold"])
def test_bad_amounts_raise_invalid_amount_and_write_nothing(
    user: Any, operation: str, amount: Any, says: str
) -> None:
    ledger.grant(user, 100, source="purchase")
    before = (CreditTransaction.objects.count(), CreditAccount.objects.get().balance)
    extra = {"grant": {"source": "purchase"}}.get(operation, {})

    with pytest.raises(InvalidAmount) as raised:
        getattr(ledger, operation)(user, amount, **extra)

    assert raised.value.code == "invalid_amount"
    assert says in raised.value.message
    assert (CreditTransaction.objects.count(), CreditAccount.objects.get().balance) == before


# An adjustment is signed (a negative one removes credits) and a capture may be zero (it
# settles the hold without spending; None captures all of it), so those cases are valid there.
SIGNED_BAD = [p for p in BAD_AMOUNTS if p.id != "negative"]
CAPTURE_BAD = [p for p in BAD_AMOUNTS if p.id not in {"zero", "negative-zero", "int-zero", "none"}]


@pytest.mark.parametrize(("amount", "says"), SIGNED_BAD)
def test_bad_adjustment_amounts_raise_invalid_amount_and_write_nothing(
    user: Any, amount: Any, says: str
) -> None:
    ledger.grant(user, 100, source="purchase")

    with pytest.raises(InvalidAmount) as raised:
        ledger.adjust(user, amount, reason="fix")

    assert raised.value.code == "invalid_amount"
    assert CreditTransaction.objects.count() == 1


@pytest.mark.parametrize(("amount", "says"), CAPTURE_BAD)
def test_bad_capture_amounts_raise_invalid_amount(user: Any, amount: Any, says: str) -> None:
    ledger.grant(user, 100, source="purchase")
    reservation = ledger.hold(user, 10)

    with pytest.raises(InvalidAmount):
        ledger.capture(reservation, amount)

    assert ledger.balance(user).held == 10


def test_amounts_are_normalised_to_the_configured_places(settings: Any) -> None:
    settings.QUICKSCALE_CREDITS_DECIMAL_PLACES = 0
    assert to_amount(D("5.000")) == D(5)
    with pytest.raises(InvalidAmount):
        to_amount(D("5.5"))


def test_trailing_zeros_beyond_the_places_are_accepted() -> None:
    assert to_amount(D("2.5000")) == D("2.50")


@pytest.mark.parametrize("text", ["", "abc", "1,5", "0x10", " "])
def test_parsing_text_that_is_not_a_number_names_it(text: str) -> None:
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(text, field="price")
    assert raised.value.details == {"field": "price"}


def test_parsing_accepts_decimal_strings() -> None:
    assert parse_amount(" 12.50 ") == D("12.50")

"""The one money type of the suite: ``Decimal`` credits with a configured number of places."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.formats import number_format

from quickscale.credits.exceptions import InvalidAmount

#: Places stored by the database columns; ``DECIMAL_PLACES`` may not exceed it.
STORED_PLACES = 8
MAX_DIGITS = 20


def to_amount(value: Any, *, field: str = "amount", allow_zero: bool = False) -> Decimal:
    """Validate a caller's amount and return it as a ``Decimal``.

    Only ``Decimal`` and ``int`` are accepted: floats cannot represent most amounts exactly and
    strings belong to the edges (forms, JSON) that parse them first. Raises ``InvalidAmount``
    naming ``field`` for anything else, for non-finite, non-positive, over-precise or too large
    values.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise InvalidAmount(
            f"{field} must be a Decimal or an integer, not {type(value).__name__}.",
            details={"field": field},
        )
    amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidAmount(
            f"{field} must be a finite number, not {value}.", details={"field": field}
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise InvalidAmount(f"{field} must be {bound}, not {value}.", details={"field": field})
    maximum = settings.QUICKSCALE_CREDITS_MAX_AMOUNT
    if amount > maximum:
        raise InvalidAmount(
            f"{field} must not exceed {maximum}, not {value}.", details={"field": field}
        )
    places = settings.QUICKSCALE_CREDITS_DECIMAL_PLACES
    exponent = amount.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and -exponent > places
        and amount != amount.quantize(Decimal(1).scaleb(-places))
    ):
        raise InvalidAmount(
            f"{field} has more than {places} decimal places: {value}.",
            details={"field": field, "decimal_places": places},
        )
    return amount.quantize(Decimal(1).scaleb(-places))


def to_signed_amount(value: Any, *, field: str = "amount") -> Decimal:
    """Like :func:`to_amount` for a change that may be negative (never zero)."""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite() and number < 0:
            return -to_amount(-number, field=field)
    return to_amount(value, field=field)


def parse_amount(text: Any, *, field: str = "amount") -> Decimal:
    """Parse an amount from user input (a form or JSON string) and validate it."""
    if isinstance(text, str):
        try:
            value: Any = Decimal(text.strip())
        except InvalidOperation:
            raise InvalidAmount(
                f"{field} is not a number: {text!r}.", details={"field": field}
            ) from None
    else:
        value = text
    return to_amount(value, field=field)


def quantize(value: Decimal) -> Decimal:
    """``value`` rounded to the configured places (the database stores eight)."""
    return Decimal(value).quantize(Decimal(1).scaleb(-settings.QUICKSCALE_CREDITS_DECIMAL_PLACES))


def display(value: Decimal) -> str:
    """An amount as people read it: with the configured places, not the stored eight."""
    return f"{quantize(value):f}"


def for_people(value: Decimal | int) -> str:
    """An amount as a page shows it: grouped in thousands in the active locale, whole amounts
    without decimals (``"1,000"``), others with the configured places (``"12.50"``).

    For pages only: :func:`display` is the form that :func:`parse_amount` reads back.
    """
    amount = quantize(Decimal(value))
    places = 0 if amount == amount.to_integral_value() else None
    if places is None:
        places = settings.QUICKSCALE_CREDITS_DECIMAL_PLACES
    return number_format(amount, decimal_pos=places, use_l10n=True, force_grouping=True)

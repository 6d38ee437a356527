"""``{% load quickscale_credits %}``: credit amounts formatted for people.

``{{ balance.available|credits }}`` shows ``1,000`` or ``12.50``;
``{{ entry.amount|credits:"signed" }}`` adds the sign of a change (``+40``; a minus sign,
U+2212, before a negative one).
Anything that is not a number is shown as it is, so a template never fails on a missing value.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from quickscale.credits.amounts import for_people

register = template.Library()

#: U+2212, the minus sign: the same width as the plus sign, so columns of changes line up.
MINUS = "\u2212"


@register.filter(name="credits")
def credits_filter(value: Any, arg: str = "") -> Any:
    """An amount grouped in thousands, with decimals only when it has some."""
    if value is None or value == "" or isinstance(value, bool):
        return value
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not amount.is_finite():
        return value
    text = for_people(abs(amount))
    if arg == "signed":
        if amount > 0:
            return f"+{text}"
        if amount < 0:
            return f"{MINUS}{text}"
        return text
    return f"{MINUS}{text}" if amount < 0 else text

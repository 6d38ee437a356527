"""``{% load readable %}``: what the account pages and the playground show, worded for people.

``{{ amount|credit_amount }}`` is "1 credit", "0.50 credits" or "1,250 credits";
``{{ run.duration_ms|duration }}`` is "0.42 s" or "2 min 5 s"; ``{{ run.output|pretty_json }}``
is the output indented for reading. Anything unexpected is shown as it is, so a page never
fails on an odd value.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext, ngettext

from quickscale.credits.templatetags.quickscale_credits import credits_filter

register = template.Library()


@register.filter
def credit_amount(value: Any) -> Any:
    """An amount with its unit, singular for exactly one credit."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value
    if not amount.is_finite():
        return value
    text = credits_filter(amount)
    return ngettext("%(amount)s credit", "%(amount)s credits", 1 if amount == 1 else 2) % {
        "amount": text
    }


@register.filter
def duration(milliseconds: Any) -> str:
    """How long a run took: fractions of a second for fast runs, minutes for slow ones."""
    if milliseconds is None or isinstance(milliseconds, bool):
        return ""
    try:
        total = int(milliseconds)
    except (TypeError, ValueError):
        return ""
    if total < 10_000:
        return gettext("%(seconds)s s") % {"seconds": f"{total / 1000:.2f}"}
    seconds = round(total / 1000)
    if seconds < 60:
        return gettext("%(seconds)s s") % {"seconds": seconds}
    return gettext("%(minutes)s min %(seconds)s s") % {
        "minutes": seconds // 60,
        "seconds": seconds % 60,
    }


@register.filter
def pretty_json(value: Any) -> str:
    """JSON indented two spaces, keys in their own order, non-ASCII text kept readable."""
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
    except (TypeError, ValueError):
        return str(value)

"""Reading Stripe objects, whether an event carried them or the API returned them.

API responses are turned into plain dicts at once (:func:`as_data`), so every other module
reads the same shape as a stored event's ``data.object``. Ids that come from outside (a form,
a URL, a webhook body) are checked with :func:`is_stripe_id` before any query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from quickscale.billing.exceptions import InvalidStripeId, StripeUnavailable

Data = dict[str, Any]

#: A Stripe id: printable ASCII without spaces, at most 255 characters (Stripe's own limit).
#: Anything else is no id of Stripe's, and must not reach a query: PostgreSQL refuses a NUL
#: byte in text (the query raises), and an index lookup of a longer value is wasted.
STRIPE_ID = re.compile(r"[!-~]{1,255}")


def is_stripe_id(value: Any) -> bool:
    """Whether ``value`` can be a Stripe id (see :data:`STRIPE_ID`)."""
    return isinstance(value, str) and STRIPE_ID.fullmatch(value) is not None


def checked_id(value: Any, field: str) -> str:
    """``value`` when it can be a Stripe id, else ``InvalidStripeId`` naming ``field``."""
    if not is_stripe_id(value):
        raise InvalidStripeId(
            f"The {field} is not a Stripe id (1 to 255 printable ASCII characters, no spaces).",
            details={"field": field},
        )
    checked: str = value
    return checked


def as_data(value: Any) -> Data:
    """A Stripe API object (``stripe.StripeObject``) or a mapping as a plain dict."""
    if isinstance(value, Mapping):
        return dict(value)
    to_dict = getattr(value, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"Not a Stripe object: {value!r}")
    data: Data = to_dict()
    return data


def ref(value: Any) -> str | None:
    """The id of an expandable field: the id itself, or the expanded object's ``id``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def dig(data: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """``dig(invoice, "parent.subscription_details.subscription")``, ``default`` when any part
    is missing or null."""
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or current.get(part) is None:
            return default
        current = current[part]
    return current


def moment(value: Any) -> datetime | None:
    """An aware datetime from Stripe's Unix timestamps (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"A Stripe timestamp is an integer, not {value!r}")
    return datetime.fromtimestamp(value, tz=timezone.utc)


def is_missing(error: Exception) -> bool:
    """Whether a Stripe error says the object does not exist (deleted, or never did)."""
    return getattr(error, "http_status", None) == 404


def unavailable(error: Exception) -> StripeUnavailable:
    """The error a page or command reports when a Stripe request failed."""
    message = getattr(error, "user_message", None) or str(error) or type(error).__name__
    return StripeUnavailable(
        f"Stripe could not complete the request: {message}",
        details={"stripe_error": type(error).__name__},
    )

"""The arguments every ledger operation shares, checked once, in one place.

A bad argument raises :class:`~quickscale.credits.exceptions.InvalidArgument` naming it, before
anything is read or written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from quickscale.credits.exceptions import InvalidArgument

Owner = Any  # a user instance or its primary key


@dataclass(frozen=True)
class Common:
    """What every write records besides its amount: who made it, why, under which reference,
    with which metadata, and the idempotency key that makes a retry return the first result."""

    actor: Any = None
    reason: str = ""
    reference: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None


#: The arguments of the ledger's own bookkeeping entries (allocations, expiries).
INTERNAL = Common()


def common(
    actor: Any = None,
    reason: str = "",
    reference: str = "",
    metadata: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Common:
    """Check the shared arguments of an operation and return them as one value."""
    check_idempotency_key(idempotency_key)
    return Common(
        actor=owner_or_none(actor),
        reason=text(reason, "reason"),
        reference=text(reference, "reference"),
        metadata=json_metadata(metadata),
        idempotency_key=idempotency_key,
    )


def owner_id(owner: Owner) -> Any:
    """The user's primary key. Only a user, or a key of the user model's own type (or its
    string form), is accepted: ``1.5`` must never turn into user 1."""
    user_model = get_user_model()
    if isinstance(owner, user_model):
        if owner.pk is None:
            raise InvalidArgument("The owner must be a saved user.")
        return owner.pk
    if owner is None or isinstance(owner, (bool, float, Decimal)):
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.")
    try:
        key = user_model._meta.pk.to_python(owner)
    except ValidationError:
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.") from None
    if str(key) != str(owner):
        raise InvalidArgument(f"owner must be a user or a user id, not {owner!r}.")
    return key


def owner_or_none(actor: Any) -> Any:
    """A user (or ``None``) recorded as the one who made a change."""
    if actor is None or getattr(actor, "is_anonymous", False):
        return None
    if not isinstance(actor, get_user_model()) or actor.pk is None:
        raise InvalidArgument(f"actor must be a saved user or None, not {actor!r}.")
    return actor


def check_idempotency_key(idempotency_key: str | None) -> None:
    """Refuse a key the database could not store (every write's ``idempotency_key``)."""
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str)
        or not 1 <= len(idempotency_key) <= 255
        or "\x00" in idempotency_key
    ):
        raise InvalidArgument(
            "idempotency_key must be a string of 1 to 255 characters without NUL.",
            details={"field": "idempotency_key"},
        )


def text(value: Any, name: str) -> str:
    """``value`` if it is text a column of 255 characters can store, else ``InvalidArgument``."""
    if not isinstance(value, str) or len(value) > 255 or "\x00" in value:
        raise InvalidArgument(
            f"{name} must be a string of at most 255 characters without NUL.",
            details={"field": name},
        )
    return value


def json_metadata(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict PostgreSQL's ``jsonb`` can store (``None`` is ``{}``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument("metadata must be a dict.")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidArgument(f"metadata must be JSON-serialisable: {error}.") from None
    if "\\u0000" in encoded:
        raise InvalidArgument("metadata must not contain NUL characters.")
    return value


def digest(operation: str, **payload: Any) -> str:
    """The fingerprint of a request, stored with its entry: a retry with the same idempotency
    key must send the same one."""
    encoded = json.dumps([operation, payload], sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()

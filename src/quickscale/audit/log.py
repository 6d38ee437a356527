"""Recording events: :func:`record`, which every automatic capture goes through too.

An event is one ``INSERT`` in the caller's transaction, with no hash yet: it commits or rolls
back with the change it describes, and concurrent writers never wait on one another. The request
id, client address, user agent and actor come from :mod:`quickscale.core.context` unless given.
Which actions are recorded is decided by ``QUICKSCALE_AUDIT_CAPTURE`` and
``QUICKSCALE_AUDIT_EXCLUDE``, read at call time.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from quickscale.audit.exceptions import InvalidAuditArgument
from quickscale.audit.models import AuditEvent, Outcome
from quickscale.core import events
from quickscale.core.context import Actor, Context, current, request_context
from quickscale.core.db import fetch_one

__all__ = [
    "CURRENT",
    "MASK",
    "Target",
    "captures",
    "event_values",
    "mask",
    "masks",
    "record",
]

#: ``record(actor=CURRENT)``: the actor of the current context (the default).
CURRENT: Any = events.CURRENT
#: What an event is about, when it is not (or should not be read from) a model instance.
Target = events.Target
MASK = "********"
#: The columns ``record`` writes; ``occurred_at`` and the hash columns take their defaults.
COLUMNS = (
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "actor_repr",
    "api_key_id",
    "ip",
    "user_agent",
    "request_id",
    "target_type",
    "target_id",
    "target_repr",
    "changes",
    "metadata",
)
JSON_COLUMNS = frozenset({"changes", "metadata"})
OUTCOMES = frozenset(Outcome.values)
ACTION_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+")


def captures(action: str) -> bool:
    """Whether ``action`` is recorded under the current settings."""
    return _captures(
        action,
        tuple(settings.QUICKSCALE_AUDIT_CAPTURE),
        tuple(settings.QUICKSCALE_AUDIT_EXCLUDE),
    )


@functools.lru_cache(maxsize=1024)
def _captures(action: str, capture: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    return any(_matches(action, pattern) for pattern in capture) and not any(
        _matches(action, pattern) for pattern in exclude
    )


def _matches(action: str, pattern: str) -> bool:
    pattern = pattern.rstrip(".")
    return pattern == "*" or action == pattern or action.startswith(pattern + ".")


def record(
    action: str,
    *,
    actor: Any = CURRENT,
    target: models.Model | Target | None = None,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    outcome: str = "success",
    request: Any = None,
    using: str | None = None,
) -> AuditEvent | None:
    """Record ``action`` and return the event, or ``None`` when the action is not captured.

    ``actor`` is a user, an :class:`~quickscale.core.context.Actor`, ``None`` for nobody, or
    (the default) whoever the current context says. ``target`` is a model instance or a
    :class:`Target`. ``changes`` maps field names to ``[old, new]``; values of fields named in
    ``QUICKSCALE_AUDIT_MASKED_FIELDS`` are masked there and in ``metadata``. ``request`` supplies
    the request id, address and actor when no middleware set a context (e.g. a signal sent with
    the request). Raises ``InvalidAuditArgument`` for a malformed action or argument.
    """
    values = event_values(
        action,
        actor=actor,
        target=target,
        changes=changes,
        metadata=metadata,
        outcome=outcome,
        request=request,
    )
    if values is None:
        return None
    if using is None:
        using = (
            target._state.db
            if isinstance(target, models.Model) and target._state.db
            else router.db_for_write(AuditEvent)
        )
    pk, occurred_at = _insert(using, values)
    stored = {**values, "id": pk, "occurred_at": occurred_at}
    # Positional, as from a query: the model's fast path (keyword arguments cost far more).
    return AuditEvent.from_db(using, _field_names(), [stored.get(name) for name in _field_names()])


def event_values(
    action: str,
    *,
    actor: Any = CURRENT,
    target: models.Model | Target | None = None,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    outcome: str = "success",
    request: Any = None,
) -> dict[str, Any] | None:
    """The column values :func:`record` writes for these arguments (masked, checked), or
    ``None`` when the action is not captured. Raises ``InvalidAuditArgument`` as it does."""
    if not isinstance(action, str) or len(action) > 100 or not ACTION_RE.fullmatch(action):
        raise InvalidAuditArgument(
            f"action must be a dotted lowercase name such as 'apikey.revoked', not {action!r}."
        )
    if outcome not in OUTCOMES:
        raise InvalidAuditArgument(
            f"outcome must be one of {', '.join(Outcome.values)}, not {outcome!r}."
        )
    if not captures(action):
        return None
    now = current()
    if request is not None and not now.request_id:
        now = request_context(request)  # no middleware: the request is the context
    return _columns(
        action,
        outcome,
        _actor(actor, now),
        now,
        _target(target),
        _document(changes, "changes", pairs=True),
        _document(metadata, "metadata"),
    )


def _columns(
    action: str,
    outcome: str,
    who: Actor | None,
    now: Context,
    about: Target | None,
    changes: dict[str, Any],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    return {
        "action": action,
        "outcome": outcome,
        "actor_type": who.type if who else "",
        "actor_id": _text(who.id, 64) if who else "",
        "actor_repr": _text(who.label) if who else "",
        "api_key_id": _text(who.api_key_id, 64) if who else "",
        "ip": now.ip,
        "user_agent": _text(now.user_agent),
        "request_id": _text(now.request_id, 64),
        "target_type": _text(about.type, 100) if about else "",
        "target_id": _text(about.id, 64) if about else "",
        "target_repr": _text(about.repr) if about else "",
        "changes": changes,
        "metadata": metadata,
    }


def masks(key: str) -> bool:
    """Whether values under ``key`` are masked (``QUICKSCALE_AUDIT_MASKED_FIELDS``)."""
    return _sensitive(key, _fragments(tuple(settings.QUICKSCALE_AUDIT_MASKED_FIELDS)))


@functools.cache
def _field_names() -> list[str]:
    return [field.attname for field in AuditEvent._meta.concrete_fields]


def _insert(using: str, values: dict[str, Any]) -> tuple[int, datetime | None]:
    """One ``INSERT`` of an event, without the ORM's per-field machinery (this is on the path
    of every audited write); ``occurred_at`` is the database's default."""
    connection = connections[using]
    returning = connection.features.can_return_columns_from_insert
    sql = _insert_sql(
        connection.vendor, connection.ops.quote_name(AuditEvent._meta.db_table), returning
    )
    params = [
        json.dumps(values[column]) if column in JSON_COLUMNS else values[column]
        for column in COLUMNS
    ]
    if not returning:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.lastrowid), None
    row = fetch_one(connection, sql, params)  # prepared once per connection on PostgreSQL
    assert row is not None  # an INSERT ... RETURNING returns its row
    pk, occurred_at = row
    # SQLite returns the UTC time it stored, naive (or as text, without Django's converters).
    if isinstance(occurred_at, str):
        occurred_at = parse_datetime(occurred_at)
    if isinstance(occurred_at, datetime) and settings.USE_TZ and timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at, dt_timezone.utc)
    return int(pk), occurred_at


@functools.lru_cache(maxsize=8)
def _insert_sql(vendor: str, table: str, returning: bool) -> str:
    casts = {"ip": "::inet", "changes": "::jsonb", "metadata": "::jsonb"}
    placeholders = ", ".join(
        f"%s{casts.get(column, '') if vendor == 'postgresql' else ''}" for column in COLUMNS
    )
    sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608
    return sql + " RETURNING id, occurred_at" if returning else sql


def _actor(actor: Any, now: Context) -> Actor | None:
    if actor is CURRENT:
        return now.actor
    if actor is None or isinstance(actor, Actor):
        return actor
    if isinstance(actor, models.Model):
        return Actor.of_user(actor)
    raise InvalidAuditArgument(f"actor must be a user, an Actor or None, not {actor!r}.")


def _target(target: Any) -> Target | None:
    if target is None or isinstance(target, Target):
        return target
    if isinstance(target, models.Model):
        return Target.of(target)
    raise InvalidAuditArgument(f"target must be a model instance or a Target, not {target!r}.")


def _document(value: Any, name: str, *, pairs: bool = False) -> dict[str, Any]:
    """``value`` as plain JSON (decimals and dates as strings), masked."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidAuditArgument(f"{name} must be a dict, not {type(value).__name__}.")
    if _plain(value, pairs):
        return mask(value)  # already what the JSON round trip below would give, copied by mask
    try:
        text = json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidAuditArgument(f"{name} must be JSON-serialisable: {error}.") from None
    # PostgreSQL's jsonb cannot hold NUL characters.
    document: dict[str, Any] = json.loads(text.replace("\\u0000", "\\ufffd"))
    if pairs:
        for field, change in document.items():
            if not (isinstance(change, list) and len(change) == 2):
                raise InvalidAuditArgument(
                    f"changes must map each field to [old, new], not {field!r}: {change!r}."
                )
    return mask(document)


def _plain(document: dict[Any, Any], pairs: bool) -> bool:
    """Whether ``document`` is flat JSON already: string keys, and values that are strings
    without NUL, integers, booleans or ``None`` (``[old, new]`` pairs of them for changes)."""
    for key, value in document.items():
        if type(key) is not str:
            return False
        if pairs:
            if type(value) is not list or len(value) != 2:
                return False
            if not (_plain_value(value[0]) and _plain_value(value[1])):
                return False
        elif not _plain_value(value):
            return False
    return True


def _plain_value(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" not in value
    return kind is int or kind is bool or value is None


def mask(document: Any) -> Any:
    """A copy of a JSON document with the values of sensitive keys replaced by ``MASK``."""
    return _mask(document, _fragments(tuple(settings.QUICKSCALE_AUDIT_MASKED_FIELDS)))


@functools.lru_cache(maxsize=16)
def _fragments(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(fragment.lower() for fragment in fields)


def _mask(value: Any, fragments: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            key: _hide(item) if _sensitive(key, fragments) else _mask(item, fragments)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item, fragments) for item in value]
    return value


@functools.lru_cache(maxsize=1024)
def _sensitive(key: str, fragments: tuple[str, ...]) -> bool:
    lowered = key.lower()
    return any(fragment in lowered for fragment in fragments)


def _hide(value: Any) -> Any:
    """Masked, keeping the shape of a ``[old, new]`` pair and which side was empty."""
    if isinstance(value, list):
        return [None if item is None else MASK for item in value]
    return None if value is None else MASK


def _text(value: Any, length: int = 255) -> str:
    return str(value).replace("\x00", "")[:length]

"""Recording events: :func:`record`, which every automatic capture goes through too.

An event is one ``INSERT`` in the caller's transaction, with no hash yet: it commits or rolls
back with the change it describes, and concurrent writers never wait on one another. The request
id, client address, user agent and actor come from :mod:`quickscale.core.context` unless given.
Which actions are recorded is decided by ``QUICKSCALE_AUDIT_CAPTURE`` and
``QUICKSCALE_AUDIT_EXCLUDE``, read at call time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, router

from quickscale.audit.exceptions import InvalidAuditArgument
from quickscale.audit.models import AuditEvent, Outcome
from quickscale.core.context import Actor, Context, current, request_context

__all__ = ["CURRENT", "MASK", "Target", "captures", "mask", "record"]

#: ``record(actor=CURRENT)``: the actor of the current context (the default).
CURRENT: Any = object()
MASK = "********"
ACTION_RE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


@dataclass(frozen=True)
class Target:
    """What an event is about, when it is not (or should not be read from) a model instance."""

    type: str
    id: str = ""
    repr: str = ""

    @classmethod
    def of(cls, instance: models.Model) -> Target:
        return cls(instance._meta.label_lower, str(instance.pk), str(instance))


def captures(action: str) -> bool:
    """Whether ``action`` is recorded under the current settings."""
    capture = settings.QUICKSCALE_AUDIT_CAPTURE
    exclude = settings.QUICKSCALE_AUDIT_EXCLUDE
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
    if not isinstance(action, str) or len(action) > 100 or not ACTION_RE.fullmatch(action):
        raise InvalidAuditArgument(
            f"action must be a dotted lowercase name such as 'apikey.revoked', not {action!r}."
        )
    if outcome not in Outcome.values:
        raise InvalidAuditArgument(
            f"outcome must be one of {', '.join(Outcome.values)}, not {outcome!r}."
        )
    if not captures(action):
        return None
    now = current()
    if request is not None and not now.request_id:
        now = request_context(request)  # no middleware: the request is the context
    who = _actor(actor, now)
    about = _target(target)
    event = AuditEvent(
        action=action,
        outcome=outcome,
        actor_type=who.type if who else "",
        actor_id=_text(who.id, 64) if who else "",
        actor_repr=_text(who.label) if who else "",
        api_key_id=_text(who.api_key_id, 64) if who else "",
        ip=now.ip,
        user_agent=_text(now.user_agent),
        request_id=_text(now.request_id, 64),
        target_type=_text(about.type, 100) if about else "",
        target_id=_text(about.id, 64) if about else "",
        target_repr=_text(about.repr) if about else "",
        changes=_document(changes, "changes", pairs=True),
        metadata=_document(metadata, "metadata"),
    )
    if using is None:
        using = (
            target._state.db
            if isinstance(target, models.Model) and target._state.db
            else router.db_for_write(AuditEvent)
        )
    event.save(using=using, force_insert=True)
    return event


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


def mask(document: Any) -> Any:
    """A copy of a JSON document with the values of sensitive keys replaced by ``MASK``."""
    fragments = [fragment.lower() for fragment in settings.QUICKSCALE_AUDIT_MASKED_FIELDS]
    return _mask(document, fragments)


def _mask(value: Any, fragments: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: _hide(item) if _sensitive(key, fragments) else _mask(item, fragments)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item, fragments) for item in value]
    return value


def _sensitive(key: str, fragments: list[str]) -> bool:
    lowered = key.lower()
    return any(fragment in lowered for fragment in fragments)


def _hide(value: Any) -> Any:
    """Masked, keeping the shape of a ``[old, new]`` pair and which side was empty."""
    if isinstance(value, list):
        return [None if item is None else MASK for item in value]
    return None if value is None else MASK


def _text(value: Any, length: int = 255) -> str:
    return str(value).replace("\x00", "")[:length]

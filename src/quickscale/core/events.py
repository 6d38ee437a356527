"""One normalised event for everything the quickscale apps announce.

Each app translates what happened in it (a ledger entry, a key revoked, a catalog price changed,
a payment recorded) into an :class:`Event` and sends it through :data:`event`, inside the
transaction of the change: a receiver that writes rows (the audit log) commits or rolls back
with it, and one that raises rolls the change back. So a receiver needs to know one shape, not
every app's signals, and the audit log depends on this module alone.

Amounts and other values arrive already formatted as text ("12.50"), so a receiver can store
or show them without knowing how each app counts.

An app sends nothing when no receiver is connected: :func:`announce` returns at once, and the
caller may test :func:`listening` before building an expensive event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.dispatch import Signal

__all__ = ["CURRENT", "Event", "Target", "announce", "event", "listening"]

#: The actor of an event is whoever the current context names (the request's user or key,
#: a command's operator): :mod:`quickscale.core.context` knows it, the sender need not.
CURRENT: Any = object()

#: Sent with ``sender`` (the model class the event is about) and ``event`` (an :class:`Event`).
event = Signal()


@dataclass(frozen=True)
class Target:
    """What an event is about, named without loading it: its model's ``label_lower``, its
    primary key as text, and how it reads to people."""

    type: str
    id: str = ""
    repr: str = ""

    @classmethod
    def of(cls, instance: models.Model) -> Target:
        """The target naming a saved model instance."""
        return cls(instance._meta.label_lower, str(instance.pk), str(instance))


@dataclass(frozen=True)
class Event:
    """Something that happened, as every receiver sees it.

    ``action`` is a dotted lowercase name (``credits.debited``, ``apikey.revoked``).
    ``actor`` is a user, a :class:`~quickscale.core.context.Actor`, ``None`` for nobody, or
    :data:`CURRENT`. ``target`` is a model instance or a :class:`Target`. ``changes`` maps a
    field to ``[old, new]``; ``metadata`` is a JSON-serialisable dict. ``using`` is the database
    alias the change was written to, so a receiver can write in the same transaction.
    """

    action: str
    actor: Any = CURRENT
    target: models.Model | Target | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    outcome: str = "success"
    using: str | None = None


def listening(sender: Any = None) -> bool:
    """Whether a receiver would get an event of ``sender``: one connected for that sender or
    for any sender (without ``sender``: one connected for any sender)."""
    return event.has_listeners(sender)


def announce(sender: Any, action: str, **fields: Any) -> None:
    """Send :data:`event` with an :class:`Event` of ``action`` and ``fields`` (its other
    attributes), when a receiver is connected."""
    if event.has_listeners(sender):
        event.send(sender=sender, event=Event(action, **fields))

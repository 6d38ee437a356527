"""What the service catalog announces, as :mod:`quickscale.core.events` events.

One event per kind of catalog change: created, enabled or disabled, price changed, registered or
unregistered (its code appeared or vanished), and any other change (name, description) as
updated. They are sent inside the transaction that writes the catalog row.
"""

from __future__ import annotations

from typing import Any

from quickscale.core import events
from quickscale.services.models import Service


def announce_catalog_change(
    entry: Service, changes: dict[str, list[Any]], *, created: bool, actor: Any
) -> None:
    """Announce the ``changes`` (``{field: [old, new]}``) just written to a catalog row."""
    if not events.listening(Service):
        return
    who = actor if actor is not None else events.CURRENT
    if created:
        _announce("services.catalog.created", who, entry, changes)
        return
    rest = dict(changes)
    if "enabled" in rest:
        action = "services.catalog.enabled" if entry.enabled else "services.catalog.disabled"
        _announce(action, who, entry, {"enabled": rest.pop("enabled")})
    if "price_override" in rest:
        price = {"price_override": rest.pop("price_override")}
        _announce("services.catalog.price_changed", who, entry, price)
    if "registered" in rest:
        action = (
            "services.catalog.registered" if entry.registered else "services.catalog.unregistered"
        )
        _announce(action, who, entry, {"registered": rest.pop("registered")})
    if rest:
        _announce("services.catalog.updated", who, entry, rest)


def _announce(action: str, actor: Any, entry: Service, changes: dict[str, Any]) -> None:
    events.announce(
        Service, action, actor=actor, target=entry, changes=changes, using=entry._state.db
    )

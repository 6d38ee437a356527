"""What the API keys app announces, as :mod:`quickscale.core.events` events: a key created,
rolled or revoked, translated from the app's own signals inside the transaction of the change.
Connected in ``APIKeysConfig.ready()``."""

from __future__ import annotations

from typing import Any

from quickscale.apikeys import signals
from quickscale.apikeys.models import APIKey
from quickscale.core import events


def connect() -> None:
    """Translate the app's signals into core events."""
    signals.api_key_created.connect(
        created, sender=APIKey, dispatch_uid="quickscale_apikeys.events"
    )
    signals.api_key_rolled.connect(rolled, sender=APIKey, dispatch_uid="quickscale_apikeys.events")
    signals.api_key_revoked.connect(
        revoked, sender=APIKey, dispatch_uid="quickscale_apikeys.events"
    )


def _metadata(key: APIKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "owner": key.owner_id,
        "environment": key.environment,
        "scopes": list(key.scopes or []),
        "expires_at": key.expires_at,
    }


def _actor(by: Any) -> Any:
    return by if by is not None else events.CURRENT


def created(sender: Any, key: APIKey, by: Any = None, **kwargs: Any) -> None:
    """``apikey.created``: the new key."""
    events.announce(
        APIKey,
        "apikey.created",
        actor=_actor(by),
        target=key,
        metadata=_metadata(key),
        using=key._state.db,
    )


def rolled(sender: Any, key: APIKey, previous: APIKey, by: Any = None, **kwargs: Any) -> None:
    """``apikey.rolled``: the key replaced, now expiring, and the key that replaces it."""
    events.announce(
        APIKey,
        "apikey.rolled",
        actor=_actor(by),
        target=previous,
        changes={"expires_at": [None, previous.expires_at]},
        metadata={**_metadata(previous), "replaced_by": key.key_id},
        using=previous._state.db,
    )


def revoked(sender: Any, key: APIKey, by: Any = None, reason: str = "", **kwargs: Any) -> None:
    """``apikey.revoked``: the key and why."""
    events.announce(
        APIKey,
        "apikey.revoked",
        actor=_actor(by),
        target=key,
        changes={"revoked_at": [None, key.revoked_at]},
        metadata={**_metadata(key), "reason": reason},
        using=key._state.db,
    )

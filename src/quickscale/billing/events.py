"""What billing announces, as :mod:`quickscale.core.events` events: each ``billing_event``
(a payment, a refund, a subscription or catalog change) translated inside the transaction of
the change. Connected in ``BillingConfig.ready()``."""

from __future__ import annotations

from typing import Any

from quickscale.billing import signals
from quickscale.core import events
from quickscale.core.context import current


def connect() -> None:
    """Translate ``billing_event`` into core events."""
    signals.billing_event.connect(changed, dispatch_uid="quickscale_billing.events")


def changed(
    sender: Any,
    action: str,
    user: Any = None,
    target: Any = None,
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """A billing change: its actor is whoever the context names (staff refunding, the customer
    at checkout), else the customer the change belongs to (a Stripe webhook acts for them)."""
    events.announce(
        sender,
        action,
        actor=events.CURRENT if current().actor is not None else user,
        target=target,
        metadata={**(metadata or {}), "user": getattr(user, "pk", None)},
        using=getattr(getattr(target, "_state", None), "db", None),
    )

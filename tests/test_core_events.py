"""The core event reaches receivers connected for one sender, as Django's signals promise."""

from __future__ import annotations

from typing import Any

import pytest

from quickscale.core import events
from quickscale.credits import ledger
from quickscale.credits.models import CreditAccount


@pytest.mark.django_db
def test_a_receiver_connected_for_credit_accounts_gets_the_ledgers_events(user: Any) -> None:
    seen: list[events.Event] = []

    def receiver(sender: Any, event: events.Event, **kwargs: Any) -> None:
        seen.append(event)

    # Only this receiver: the audit log's (connected for any sender) is set aside.
    audit = events.event.disconnect(dispatch_uid="quickscale_audit.events")
    events.event.connect(receiver, sender=CreditAccount, dispatch_uid="test-core-events")
    try:
        ledger.grant(user, 10, source="purchase")
        ledger.debit(user, 3)
    finally:
        events.event.disconnect(sender=CreditAccount, dispatch_uid="test-core-events")
        if audit:
            from quickscale.audit.receivers import happened

            events.event.connect(happened, dispatch_uid="quickscale_audit.events")

    assert [event.action for event in seen] == ["credits.granted", "credits.debited"]
    assert seen[1].changes == {"balance": ["10.00", "7.00"]}
    assert seen[1].target.type == "quickscale_credits.creditaccount"

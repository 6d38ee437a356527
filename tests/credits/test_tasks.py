from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold
from quickscale.credits.tasks import sweep_credits
from tests.credits.conftest import HOUR, lapsed


def test_the_sweep_task_expires_grants_and_releases_holds(user: Any) -> None:
    promotion = ledger.grant(user, 5, source="promotion", expires_at=timezone.now() + HOUR)
    ledger.grant(user, 5, source="purchase")
    reservation = ledger.hold(user, 2)
    lapsed(promotion)
    CreditHold.objects.filter(pk=reservation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    result = sweep_credits.enqueue()

    assert result.return_value == {"expired_grants": 1, "released_holds": 1}
    assert ledger.balance(user) == ledger.Balance(5, 0, 5)
    assert ledger.verify(user) == []

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from quickscale.credits.models import CreditAccount, CreditGrant, CreditTransaction

HOUR = timedelta(hours=1)


def lapsed(entry: CreditTransaction) -> None:
    """Move a granted bucket's expiry into the past, as if its time had run out."""
    past = timezone.now() - timedelta(seconds=1)
    CreditGrant.objects.filter(pk=entry.grant_id).update(expires_at=past)
    CreditAccount.objects.filter(pk=entry.account_id).update(next_expiry=past)

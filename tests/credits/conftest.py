from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from quickscale.credits.models import CreditAccount, CreditGrant, CreditTransaction

_numbers = itertools.count(1)
HOUR = timedelta(hours=1)


def lapsed(entry: CreditTransaction) -> None:
    """Move a granted bucket's expiry into the past, as if its time had run out."""
    past = timezone.now() - timedelta(seconds=1)
    CreditGrant.objects.filter(pk=entry.grant_id).update(expires_at=past)
    CreditAccount.objects.filter(pk=entry.account_id).update(next_expiry=past)


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    def make(**fields: Any) -> Any:
        number = next(_numbers)
        fields.setdefault("username", f"user{number}")
        fields.setdefault("email", f"user{number}@example.com")
        return get_user_model().objects.create_user(**fields)

    return make


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()

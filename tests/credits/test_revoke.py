"""``ledger.revoke``: taking back what a grant gave (a refunded purchase), never below zero."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import timezone

from quickscale.credits import ledger
from quickscale.credits.exceptions import IdempotencyConflict, InvalidAmount, InvalidOperation
from quickscale.credits.models import CreditGrant, CreditTransaction
from tests.credits.conftest import HOUR, lapsed


def remaining(entry: CreditTransaction) -> D:
    return CreditGrant.objects.get(pk=entry.grant_id).remaining


def test_revoking_an_unspent_grant_takes_all_of_it_back(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)

    result = ledger.revoke(bought, reason="payment refunded")

    assert (result.requested, result.taken, result.shortfall) == (D(100), D(100), D(0))
    assert result.entry.kind == "adjustment"
    assert result.entry.amount == D(-100)
    assert ledger.balance(user).balance == D(0)
    assert remaining(bought) == D(0)
    assert ledger.verify(user) == []


def test_the_revoked_grant_is_emptied_before_any_other(user: Any) -> None:
    # The subscription grant expires first, so spending and adjustments would take it first.
    monthly = ledger.grant(user, 50, source="subscription", expires_at=timezone.now() + HOUR)
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)

    ledger.revoke(bought)

    assert remaining(bought) == D(0)
    assert remaining(monthly) == D(50)
    assert ledger.verify(user) == []


def test_credits_spent_from_the_grant_are_taken_from_other_credits(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)
    ledger.debit(user, 30)
    other = ledger.grant(user, 50, source="promotion", expires_at=None)

    result = ledger.revoke(bought)

    assert (result.taken, result.shortfall) == (D(100), D(0))
    assert remaining(other) == D(20)
    assert ledger.balance(user).balance == D(20)
    assert ledger.verify(user) == []


def test_what_was_spent_beyond_the_balance_is_the_shortfall(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)
    ledger.debit(user, 70)

    result = ledger.revoke(bought, reason="payment refunded")

    assert (result.taken, result.shortfall) == (D(30), D(70))
    assert ledger.balance(user) == ledger.Balance(D(0), D(0), D(0))
    assert result.entry.metadata["revoke"] == {
        "grant_entry": bought.pk,
        "requested": "100.00",
        "shortfall": "70.00",
    }
    assert ledger.verify(user) == []


def test_nothing_left_records_a_zero_entry_with_the_whole_shortfall(user: Any) -> None:
    bought = ledger.grant(user, 10, source="purchase", expires_at=None)
    ledger.debit(user, 10)

    result = ledger.revoke(bought)

    assert (result.taken, result.shortfall) == (D(0), D(10))
    assert result.entry.amount == D(0)
    assert ledger.balance(user).balance == D(0)
    assert ledger.verify(user) == []


def test_held_credits_are_never_taken(user: Any) -> None:
    bought = ledger.grant(user, 10, source="purchase", expires_at=None)
    ledger.hold(user, 4)

    result = ledger.revoke(bought)

    assert (result.taken, result.shortfall) == (D(6), D(4))
    assert ledger.balance(user) == ledger.Balance(D(4), D(4), D(0))
    assert ledger.verify(user) == []


def test_expired_credits_of_the_grant_count_as_shortfall(user: Any) -> None:
    monthly = ledger.grant(user, 50, source="subscription", expires_at=timezone.now() + HOUR)
    lapsed(monthly)

    result = ledger.revoke(monthly)

    assert (result.taken, result.shortfall) == (D(0), D(50))
    assert ledger.verify(user) == []


def test_a_part_of_the_grant_can_be_revoked(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)

    result = ledger.revoke(bought, D("25.50"))

    assert (result.taken, result.shortfall) == (D("25.50"), D(0))
    assert remaining(bought) == D("74.50")


def test_a_replay_with_the_key_returns_the_first_result(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)
    ledger.debit(user, 60)
    first = ledger.revoke(bought, idempotency_key="refund-1")
    ledger.grant(user, 500, source="promotion", expires_at=None)

    again = ledger.revoke(bought, idempotency_key="refund-1")

    assert again == first
    assert ledger.balance(user).balance == D(500)


def test_a_reused_key_with_another_amount_conflicts(user: Any) -> None:
    bought = ledger.grant(user, 100, source="purchase", expires_at=None)
    ledger.revoke(bought, 10, idempotency_key="refund-1")

    with pytest.raises(IdempotencyConflict):
        ledger.revoke(bought, 20, idempotency_key="refund-1")


def test_only_grants_can_be_revoked(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    spent = ledger.debit(user, 5)

    with pytest.raises(InvalidOperation):
        ledger.revoke(spent)


def test_more_than_the_grant_gave_cannot_be_revoked(user: Any) -> None:
    bought = ledger.grant(user, 10, source="purchase")

    with pytest.raises(InvalidOperation):
        ledger.revoke(bought, 11)
    with pytest.raises(InvalidAmount):
        ledger.revoke(bought, 0)

"""The ledger's operations, one behaviour per test, on the suite's database."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.utils import timezone

from quickscale.credits import ledger, signals
from quickscale.credits.exceptions import (
    IdempotencyConflict,
    InsufficientCredits,
    InvalidAmount,
    InvalidArgument,
    InvalidOperation,
)
from quickscale.credits.models import (
    CreditAccount,
    CreditGrant,
    CreditHold,
    CreditTransaction,
    HoldState,
)
from tests.credits.conftest import HOUR, lapsed


def available(user: Any) -> D:
    return ledger.balance(user).available


def test_a_grant_adds_to_the_stored_balance_and_records_an_entry(user: Any) -> None:
    entry = ledger.grant(user, D("12.50"), source="purchase", reason="pack")

    assert ledger.balance(user) == ledger.Balance(D("12.50"), D("0.00"), D("12.50"))
    assert entry.kind == "grant"
    assert entry.amount == D("12.50")
    assert entry.balance_after == D("12.50")
    assert entry.grant is not None and entry.grant.remaining == D("12.50")


def test_an_owner_without_account_has_zero_balance(user: Any) -> None:
    assert ledger.balance(user) == ledger.Balance(D(0), D(0), D(0))


def test_a_debit_spends_credits_and_records_balance_after(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    entry = ledger.debit(user, D("3.25"), reason="service run")

    assert entry.amount == D("-3.25")
    assert entry.balance_after == D("6.75")
    assert available(user) == D("6.75")


def test_a_debit_larger_than_available_raises_and_changes_nothing(user: Any) -> None:
    ledger.grant(user, 5, source="purchase")

    with pytest.raises(InsufficientCredits) as raised:
        ledger.debit(user, 6)

    assert raised.value.code == "insufficient_credits"
    assert raised.value.details == {"available": "5.00", "required": "6.00"}
    assert available(user) == 5
    assert CreditTransaction.objects.count() == 1


def test_an_owner_without_account_cannot_debit(user: Any) -> None:
    with pytest.raises(InsufficientCredits):
        ledger.debit(user, 1)
    assert not CreditAccount.objects.exists()


def test_grants_are_consumed_by_priority_then_expiry_then_age(user: Any) -> None:
    soon = timezone.now() + timedelta(days=1)
    later = timezone.now() + timedelta(days=9)
    never = ledger.grant(user, 10, source="purchase", expires_at=None).grant
    late = ledger.grant(user, 10, source="promotion", expires_at=later).grant
    early = ledger.grant(user, 10, source="promotion", expires_at=soon).grant
    urgent = ledger.grant(user, 10, source="admin", expires_at=None, priority=5).grant
    assert never and late and early and urgent

    ledger.debit(user, 35)
    ledger.hold(user, 1)  # a write that needs exact grant remainders

    allocation = CreditTransaction.objects.get(kind="allocation")
    assert allocation.allocations == [
        [urgent.pk, "-10.00"],
        [early.pk, "-10.00"],
        [late.pk, "-10.00"],
        [never.pk, "-5.00"],
    ]
    never.refresh_from_db()
    assert never.remaining == 4
    assert ledger.verify(user) == []


def test_a_debit_while_no_grant_is_about_to_expire_leaves_the_grants_alone(user: Any) -> None:
    bucket = ledger.grant(user, 10, source="purchase").grant
    assert bucket is not None

    entry = ledger.debit(user, 4)

    assert entry.allocations == []
    bucket.refresh_from_db()
    assert bucket.remaining == 10
    assert CreditAccount.objects.get().unallocated == 4
    assert ledger.breakdown(user) == {"purchase": D(6)}
    assert ledger.verify(user) == []


def test_a_debit_after_a_grant_came_due_takes_from_the_grants_at_once(user: Any) -> None:
    lapsed(ledger.grant(user, 10, source="promotion", expires_at=timezone.now() + HOUR))
    bucket = ledger.grant(user, 5, source="purchase").grant

    entry = ledger.debit(user, 2)

    assert bucket is not None
    assert entry.allocations == [[bucket.pk, "-2.00"]]
    kinds = list(CreditTransaction.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["grant", "grant", "expire", "debit"]
    assert ledger.verify(user) == []


def test_the_expiry_scenario_of_subscription_and_purchased_credits(user: Any) -> None:
    period_end = timezone.now() + timedelta(days=30)
    ledger.grant(user, 100, source="subscription", expires_at=period_end)
    ledger.grant(user, 10, source="purchase")

    ledger.debit(user, 80)
    assert available(user) == 30
    assert ledger.breakdown(user) == {"purchase": D(10), "subscription": D(20)}

    assert ledger.expire_due(now=period_end) == 1
    assert available(user) == 10
    assert ledger.breakdown(user) == {"purchase": D(10)}

    ledger.grant(user, 100, source="subscription", expires_at=period_end + timedelta(days=30))
    assert available(user) == 110
    assert ledger.verify(user) == []
    balances = CreditTransaction.objects.values_list("balance_after", flat=True)
    assert min(balances) >= 0


def test_subscription_grants_expire_after_the_configured_days_by_default(
    user: Any, settings: Any
) -> None:
    settings.QUICKSCALE_CREDITS_EXPIRY_DAYS = {"subscription": 7}

    sub = ledger.grant(user, 5, source="subscription").grant
    bought = ledger.grant(user, 5, source="purchase").grant

    assert sub and bought and sub.expires_at is not None
    assert timedelta(days=6, hours=23) < sub.expires_at - timezone.now() <= timedelta(days=7)
    assert bought.expires_at is None


def test_credits_past_expiry_are_not_available_before_the_sweep(user: Any) -> None:
    lapsed(ledger.grant(user, 10, source="promotion", expires_at=timezone.now() + HOUR))
    ledger.grant(user, 3, source="purchase")

    assert ledger.balance(user) == ledger.Balance(D(3), D(0), D(3))
    with pytest.raises(InsufficientCredits):
        ledger.debit(user, 4)
    ledger.debit(user, 3)
    assert ledger.verify(user) == []


def test_a_debit_cannot_spend_credits_past_their_expiry(user: Any) -> None:
    lapsed(ledger.grant(user, 10, source="promotion", expires_at=timezone.now() + HOUR))
    ledger.grant(user, 3, source="purchase")

    with pytest.raises(InsufficientCredits) as raised:
        ledger.debit(user, 5)

    assert raised.value.details == {"available": "3.00", "required": "5.00"}
    assert CreditTransaction.objects.filter(kind="debit").count() == 0
    assert ledger.verify(user) == []


def test_a_hold_reserves_credits_without_spending_them(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    reservation = ledger.hold(user, 4)

    assert reservation.state == HoldState.ACTIVE
    assert ledger.balance(user) == ledger.Balance(D(10), D(4), D(6))
    with pytest.raises(InsufficientCredits):
        ledger.debit(user, 7)


def test_a_full_capture_spends_the_hold(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)

    entry = ledger.capture(reservation)

    assert entry.kind == "capture" and entry.amount == -4
    assert ledger.balance(user) == ledger.Balance(D(6), D(0), D(6))
    reservation.refresh_from_db()
    assert reservation.state == HoldState.CAPTURED and reservation.captured == 4


def test_a_partial_capture_returns_the_rest_to_the_grants(user: Any) -> None:
    bucket = ledger.grant(user, 10, source="purchase").grant
    reservation = ledger.hold(user, 4)

    ledger.capture(reservation, D("1.5"))

    assert ledger.balance(user) == ledger.Balance(D("8.5"), D(0), D("8.5"))
    assert bucket is not None
    bucket.refresh_from_db()
    assert bucket.remaining == D("8.5")
    assert ledger.verify(user) == []


def test_a_release_gives_every_held_credit_back(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)

    entry = ledger.release(reservation)

    assert entry.kind == "release" and entry.amount == 0 and entry.held_delta == -4
    assert ledger.balance(user) == ledger.Balance(D(10), D(0), D(10))
    assert ledger.verify(user) == []


def test_capturing_more_than_the_hold_is_refused(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)

    with pytest.raises(InvalidOperation):
        ledger.capture(reservation, 5)
    assert ledger.balance(user).held == 4


def test_a_settled_hold_cannot_be_settled_differently(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)
    ledger.release(reservation)

    with pytest.raises(InvalidOperation):
        ledger.capture(reservation)
    assert available(user) == 10


def test_settling_a_hold_twice_the_same_way_returns_the_first_entry(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)

    first = ledger.capture(reservation, 3)
    again = ledger.capture(reservation, 3)

    assert again.pk == first.pk
    assert available(user) == 7


def test_held_credits_do_not_expire_under_running_work(user: Any) -> None:
    end = timezone.now() + timedelta(hours=1)
    ledger.grant(user, 10, source="subscription", expires_at=end)
    reservation = ledger.hold(user, 4)

    ledger.expire_due(now=end)

    assert ledger.balance(user) == ledger.Balance(D(4), D(4), D(0))
    ledger.capture(reservation)
    assert ledger.balance(user) == ledger.Balance(D(0), D(0), D(0))
    assert ledger.verify(user) == []


def test_expired_holds_are_released_by_the_sweep(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4, timeout=60)

    assert ledger.release_expired_holds(now=timezone.now() + timedelta(seconds=30)) == 0
    assert ledger.release_expired_holds(now=timezone.now() + timedelta(seconds=61)) == 1

    reservation.refresh_from_db()
    assert reservation.state == HoldState.EXPIRED
    assert ledger.balance(user) == ledger.Balance(D(10), D(0), D(10))


def test_a_refund_returns_spent_credits_as_a_new_grant(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    spent = ledger.debit(user, 6)

    entry = ledger.refund(spent, 2)

    assert entry.kind == "refund" and entry.refund_of == spent
    assert entry.grant is not None and entry.grant.source == "refund"
    assert entry.grant.expires_at is None
    assert available(user) == 6


def test_refunds_never_exceed_what_was_spent(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    spent = ledger.debit(user, 6)
    ledger.refund(spent, 4)

    with pytest.raises(InvalidOperation) as raised:
        ledger.refund(spent, 3)
    assert raised.value.details["refundable"] == "2.00"
    ledger.refund(spent)
    with pytest.raises(InvalidOperation):
        ledger.refund(spent)
    assert available(user) == 10


def test_only_spending_entries_can_be_refunded(user: Any) -> None:
    entry = ledger.grant(user, 10, source="purchase")

    with pytest.raises(InvalidOperation):
        ledger.refund(entry)


def test_a_positive_adjustment_adds_credits_that_never_expire(user: Any, admin_user: Any) -> None:
    entry = ledger.adjust(user, 5, reason="goodwill", actor=admin_user)

    assert entry.kind == "adjustment" and entry.actor == admin_user
    assert entry.grant is not None and entry.grant.source == "admin"
    assert entry.grant.expires_at is None
    assert available(user) == 5


def test_a_negative_adjustment_removes_credits(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    entry = ledger.adjust(user, D("-4"), reason="chargeback")

    assert entry.amount == -4
    assert available(user) == 6
    assert ledger.verify(user) == []


def test_an_adjustment_cannot_remove_more_than_available(user: Any) -> None:
    ledger.grant(user, 3, source="purchase")

    with pytest.raises(InsufficientCredits):
        ledger.adjust(user, -4, reason="too much")
    assert available(user) == 3


def test_an_adjustment_needs_a_reason(user: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        ledger.adjust(user, 5, reason="  ")
    assert raised.value.details == {"field": "reason"}
    assert not CreditTransaction.objects.exists()


@pytest.mark.parametrize(
    ("operation", "first_kwargs"),
    [
        ("grant", {"amount": D(5), "source": "purchase"}),
        ("debit", {"amount": D(2)}),
        ("hold", {"amount": D(2)}),
        ("adjust", {"amount": D(-2), "reason": "fix"}),
        ("adjust", {"amount": D(2), "reason": "fix"}),
    ],
)
def test_replaying_a_write_with_its_key_returns_the_first_result_and_changes_nothing(
    user: Any, operation: str, first_kwargs: dict[str, Any]
) -> None:
    ledger.grant(user, 10, source="purchase")
    call = getattr(ledger, operation)
    kwargs = {**first_kwargs}
    amount = kwargs.pop("amount")

    first = call(user, amount, idempotency_key="k-1", **kwargs)
    before = (ledger.balance(user), CreditTransaction.objects.count())
    again = call(user, amount, idempotency_key="k-1", **kwargs)

    assert again.pk == first.pk
    assert (ledger.balance(user), CreditTransaction.objects.count()) == before


def test_a_replay_returns_the_first_result_even_when_it_could_not_run_again(user: Any) -> None:
    ledger.grant(user, 5, source="purchase")
    first = ledger.debit(user, 5, idempotency_key="order-7")

    assert ledger.debit(user, 5, idempotency_key="order-7").pk == first.pk
    assert available(user) == 0


def test_replaying_settlements_and_refunds_with_keys_changes_nothing(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)
    capture = ledger.capture(reservation, 3, idempotency_key="cap")
    refund = ledger.refund(capture, 1, idempotency_key="ref")
    count = CreditTransaction.objects.count()

    assert ledger.capture(reservation, 3, idempotency_key="cap").pk == capture.pk
    assert ledger.refund(capture, 1, idempotency_key="ref").pk == refund.pk
    assert CreditTransaction.objects.count() == count
    assert available(user) == 8


def test_a_key_reused_for_a_different_payload_is_a_conflict(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    ledger.debit(user, 2, idempotency_key="k")

    with pytest.raises(IdempotencyConflict) as raised:
        ledger.debit(user, 3, idempotency_key="k")
    assert raised.value.code == "idempotency_conflict"
    with pytest.raises(IdempotencyConflict):
        ledger.grant(user, 2, source="purchase", idempotency_key="k")
    assert available(user) == 8


def test_keys_are_scoped_to_the_account(make_user: Any) -> None:
    alice, bob = make_user(), make_user()
    ledger.grant(alice, 5, source="purchase", idempotency_key="same")

    ledger.grant(bob, 5, source="purchase", idempotency_key="same")

    assert available(alice) == available(bob) == 5


@pytest.mark.django_db(transaction=True)
def test_signals_fire_after_commit_with_the_entry(user: Any) -> None:
    received: list[tuple[str, D]] = []

    def receiver(sender: Any, transaction: CreditTransaction, **kwargs: Any) -> None:
        received.append((transaction.kind, transaction.amount))

    signals.credits_granted.connect(receiver)
    signals.credits_debited.connect(receiver)
    try:
        ledger.grant(user, 5, source="purchase", idempotency_key="g")
        ledger.grant(user, 5, source="purchase", idempotency_key="g")
        ledger.debit(user, 2)
    finally:
        signals.credits_granted.disconnect(receiver)
        signals.credits_debited.disconnect(receiver)

    assert received == [("grant", D(5)), ("debit", D(-2))]


@pytest.mark.django_db(transaction=True)
def test_no_signal_fires_when_the_surrounding_transaction_rolls_back(user: Any) -> None:
    from django.db import transaction

    received: list[Any] = []

    def receiver(**kwargs: Any) -> None:
        received.append(kwargs)

    def grant_then_fail() -> None:
        with transaction.atomic():
            ledger.grant(user, 5, source="purchase")
            raise RuntimeError("the caller failed")

    signals.credits_granted.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            grant_then_fail()
    finally:
        signals.credits_granted.disconnect(receiver)

    assert received == []
    assert ledger.balance(user).balance == 0


def test_statement_pages_newest_first(user: Any) -> None:
    for _ in range(5):
        ledger.grant(user, 1, source="purchase")

    first = ledger.statement(user, limit=2)
    second = ledger.statement(user, before=first.next_cursor, limit=2)
    last = ledger.statement(user, before=second.next_cursor, limit=2)

    ids = [e.pk for e in first.items + second.items + last.items]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    assert last.next_cursor is None


@pytest.mark.parametrize("limit", [0, 1001, "10", None])
def test_statement_refuses_a_bad_limit(user: Any, limit: Any) -> None:
    with pytest.raises(InvalidArgument):
        ledger.statement(user, limit=limit)


def test_a_balance_does_not_count_a_lapsed_grant_not_yet_swept(user: Any) -> None:
    lapsed(ledger.grant(user, 10, source="promotion", expires_at=timezone.now() + HOUR))
    ledger.grant(user, 3, source="purchase")

    assert ledger.balance(user) == ledger.Balance(D(3), D(0), D(3))


def test_verify_reports_a_tampered_balance(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    CreditAccount.objects.update(balance=D(11))

    codes = {p.code for p in ledger.verify(user)}

    assert {"balance", "grants_total"} <= codes


def test_verify_reports_a_tampered_grant(user: Any) -> None:
    bucket = ledger.grant(user, 10, source="purchase").grant
    assert bucket is not None
    CreditGrant.objects.filter(pk=bucket.pk).update(remaining=D(9))

    problems = ledger.verify(user)

    assert [p.code for p in problems] == ["grant", "grants_total"]
    assert str(bucket.pk) in problems[0].message


def test_verify_reports_a_tampered_hold(user: Any) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 4)
    CreditHold.objects.filter(pk=reservation.pk).update(amount=D(5))

    assert "holds" in {p.code for p in ledger.verify(user)}


def test_ledger_entries_refuse_changes_through_the_orm(user: Any) -> None:
    entry = ledger.grant(user, 10, source="purchase")

    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        CreditTransaction.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(TypeError):
        CreditTransaction.objects.all().delete()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "gift"}, "source"),
        ({"source": "purchase", "priority": "high"}, "priority"),
        ({"source": "purchase", "expires_at": "tomorrow"}, "expires_at"),
        ({"source": "purchase", "reason": 5}, "reason"),
        ({"source": "purchase", "metadata": {"x": object()}}, "metadata"),
        ({"source": "purchase", "idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_bad_arguments_name_what_is_wrong_and_write_nothing(
    user: Any, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidArgument) as raised:
        ledger.grant(user, 5, **kwargs)

    assert field in raised.value.message
    assert not CreditTransaction.objects.exists()


def test_a_grant_that_would_already_be_expired_is_refused(user: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        ledger.grant(user, 5, source="promotion", expires_at=timezone.now() - timedelta(days=1))

    assert raised.value.details == {"field": "expires_at"}
    assert not CreditTransaction.objects.exists()


def test_a_grant_retried_with_a_recomputed_expiry_is_a_replay(user: Any) -> None:
    first = ledger.grant(
        user,
        5,
        source="subscription",
        expires_at=timezone.now() + timedelta(days=30),
        idempotency_key="invoice-1",
    )

    again = ledger.grant(
        user,
        5,
        source="subscription",
        expires_at=timezone.now() + timedelta(days=30),
        idempotency_key="invoice-1",
    )

    assert again.pk == first.pk
    assert available(user) == 5


def test_an_owner_without_account_gets_the_same_error_on_every_database(user: Any) -> None:
    with pytest.raises(InsufficientCredits) as raised:
        ledger.hold(user, 2)

    assert raised.value.details == {"available": "0.00", "required": "2.00"}


def test_replaying_a_full_capture_of_a_reloaded_hold_returns_the_first_capture(
    user: Any,
) -> None:
    ledger.grant(user, 10, source="purchase")
    reservation = ledger.hold(user, 5, idempotency_key="h1")
    first = ledger.capture(reservation, idempotency_key="c1")

    reloaded = ledger.hold(user, 5, idempotency_key="h1")

    assert ledger.capture(reloaded, idempotency_key="c1").pk == first.pk
    assert ledger.capture(CreditHold.objects.get(pk=reservation.pk)).pk == first.pk
    assert available(user) == 5


@pytest.mark.parametrize("owner", [1.0, D("1"), "1.5", True, None, "abc"])
def test_an_owner_that_is_not_exactly_a_user_id_is_refused(user: Any, owner: Any) -> None:
    ledger.grant(user, 10, source="purchase")

    with pytest.raises(InvalidArgument):
        ledger.debit(owner, 1)
    assert available(user) == 10


def test_a_user_id_as_text_is_accepted(user: Any) -> None:
    ledger.grant(str(user.pk), 10, source="purchase")

    assert available(user) == 10


def test_a_grant_to_a_missing_user_is_refused(user: Any) -> None:
    with pytest.raises(InvalidArgument) as raised:
        ledger.grant(user.pk + 1000, 5, source="purchase")

    assert raised.value.details == {"field": "owner"}
    assert not CreditAccount.objects.exists()


@pytest.mark.parametrize("actor", [1, "staff", object()])
def test_an_actor_must_be_a_user(user: Any, actor: Any) -> None:
    with pytest.raises(InvalidArgument):
        ledger.grant(user, 5, source="purchase", actor=actor)


def test_metadata_that_is_not_strict_json_is_refused(user: Any) -> None:
    with pytest.raises(InvalidArgument):
        ledger.grant(user, 5, source="purchase", metadata={"ratio": float("nan")})


@pytest.mark.parametrize("timeout", [0, 10**12, 1.5])
def test_a_hold_timeout_out_of_range_is_refused(user: Any, timeout: Any) -> None:
    ledger.grant(user, 5, source="purchase")

    with pytest.raises(InvalidArgument):
        ledger.hold(user, 1, timeout=timeout)


def test_a_balance_the_database_cannot_store_is_refused(user: Any, settings: Any) -> None:
    settings.QUICKSCALE_CREDITS_MAX_AMOUNT = D("600000000000")
    ledger.grant(user, D("600000000000"), source="purchase")

    with pytest.raises(InvalidAmount) as raised:
        ledger.grant(user, D("600000000000"), source="purchase")

    assert "would exceed" in raised.value.message
    assert available(user) == D("600000000000")
    assert ledger.verify(user) == []


def test_amounts_with_many_places_are_shown_without_exponents(user: Any, settings: Any) -> None:
    settings.QUICKSCALE_CREDITS_DECIMAL_PLACES = 8

    with pytest.raises(InsufficientCredits) as raised:
        ledger.debit(user, D("0.00000001"))

    assert raised.value.details == {"available": "0.00000000", "required": "0.00000001"}


def test_verify_reports_credits_moved_between_grants(user: Any) -> None:
    first = ledger.grant(user, 10, source="purchase").grant
    second = ledger.grant(user, 10, source="purchase").grant
    assert first is not None and second is not None
    CreditGrant.objects.filter(pk=first.pk).update(amount=D(15), remaining=D(15))
    CreditGrant.objects.filter(pk=second.pk).update(amount=D(5), remaining=D(5))

    codes = [p.code for p in ledger.verify(user)]

    assert codes == ["grant_amount", "grant_amount"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idempotency_key": "a\x00b"},
        {"reason": "a\x00b"},
        {"reference": "a\x00b"},
        {"metadata": {"note": "a\x00b"}},
    ],
)
def test_text_with_a_nul_character_is_refused(user: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument):
        ledger.grant(user, 5, source="purchase", **kwargs)
    assert not CreditTransaction.objects.exists()

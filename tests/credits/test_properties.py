"""Random sequences of every ledger operation keep every invariant.

After each step: the balance is never negative, never below the held credits, equals the sum
of the entries the operations returned, and ``verify`` finds nothing. Replays with a used
idempotency key change nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from quickscale.credits import ledger
from quickscale.credits.exceptions import InsufficientCredits, InvalidOperation
from quickscale.credits.models import CreditHold, CreditTransaction

amounts = st.decimals(min_value=D("0.01"), max_value=D("60"), places=2)
sources = st.sampled_from(["purchase", "subscription", "promotion", "admin", "refund"])


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    spent = Bundle("spent")

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.user = get_user_model().objects.create(username=f"p-{uuid.uuid4().hex[:12]}")
        self.now = timezone.now()
        self.expected_balance = D(0)
        self.expected_held = D(0)
        self.seen: set[int] = set()
        self.keys: dict[str, tuple[str, tuple[Any, ...], dict[str, Any], int]] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _apply(self, entry: CreditTransaction) -> None:
        # Settling a hold the sweep already released returns the sweep's entry again.
        if entry.pk in self.seen:
            return
        self.seen.add(entry.pk)
        self.expected_balance += entry.amount
        self.expected_held += entry.held_delta

    @rule(
        amount=amounts,
        source=sources,
        days=st.none() | st.integers(1, 40),
        priority=st.integers(-2, 2),
        key=st.none() | st.sampled_from(["a", "b", "c"]),
    )
    def grant(
        self, amount: D, source: str, days: int | None, priority: int, key: str | None
    ) -> None:
        expires_at = None if days is None else self.now + timedelta(days=days)
        kwargs = {"source": source, "expires_at": expires_at, "priority": priority}
        if key is not None and f"grant-{key}" in self.keys:
            return  # keys are exercised by the replay rule
        entry = ledger.grant(self.user, amount, idempotency_key=key and f"grant-{key}", **kwargs)
        if key is not None:
            self.keys[f"grant-{key}"] = ("grant", (amount,), kwargs, entry.pk)
        self._apply(entry)

    @rule(target=spent, amount=amounts)
    def debit(self, amount: D) -> Any:
        try:
            entry = ledger.debit(self.user, amount)
        except InsufficientCredits:
            assert ledger.balance(self.user).available < amount
            return None
        self._apply(entry)
        return entry

    @rule(target=holds, amount=amounts)
    def hold(self, amount: D) -> Any:
        try:
            reservation = ledger.hold(self.user, amount)
        except InsufficientCredits:
            assert ledger.balance(self.user).available < amount
            return None
        self.expected_held += amount
        return reservation

    @rule(target=spent, reservation=consumes(holds), fraction=st.sampled_from([None, 0, 0.5, 1]))
    def capture(self, reservation: CreditHold | None, fraction: float | None) -> Any:
        if reservation is None:
            return None
        amount = (
            None
            if fraction is None
            else (reservation.amount * D(str(fraction))).quantize(D("0.01"))
        )
        try:
            entry = ledger.capture(reservation, amount)
        except InvalidOperation:
            return None  # released by the expiry sweep in the meantime
        self._apply(entry)
        return entry

    @rule(reservation=consumes(holds))
    def release(self, reservation: CreditHold | None) -> None:
        if reservation is None:
            return
        try:
            entry = ledger.release(reservation)
        except InvalidOperation:
            return
        self._apply(entry)

    @rule(entry=spent, fraction=st.sampled_from([None, 0.5]))
    def refund(self, entry: CreditTransaction | None, fraction: float | None) -> None:
        if entry is None:
            return
        amount = (
            None
            if fraction is None
            else max((-entry.amount * D(str(fraction))).quantize(D("0.01")), D("0.01"))
        )
        try:
            refunded = ledger.refund(entry, amount)
        except InvalidOperation:
            return  # already refunded in full
        self._apply(refunded)

    @rule(amount=amounts, negative=st.booleans())
    def adjust(self, amount: D, negative: bool) -> None:
        try:
            entry = ledger.adjust(self.user, -amount if negative else amount, reason="property")
        except InsufficientCredits:
            assert negative
            return
        self._apply(entry)

    @rule(days=st.integers(1, 20))
    def time_passes(self, days: int) -> None:
        self.now += timedelta(days=days)
        last = CreditTransaction.objects.order_by("-id").values_list("id", flat=True).first() or 0
        ledger.expire_due(now=self.now)
        ledger.release_expired_holds(now=self.now)
        for entry in CreditTransaction.objects.filter(id__gt=last).order_by("id"):
            assert entry.kind in {"allocation", "expire", "release"}
            self._apply(entry)

    @rule()
    def replay(self) -> None:
        for key, (operation, args, kwargs, first_pk) in self.keys.items():
            count = CreditTransaction.objects.count()
            again = getattr(ledger, operation)(self.user, *args, idempotency_key=key, **kwargs)
            assert again.pk == first_pk
            assert CreditTransaction.objects.count() == count

    @invariant()
    def balances_are_consistent(self) -> None:
        current = ledger.get_account(self.user)
        if current is None:
            assert self.expected_balance == 0
            return
        assert current.balance >= 0
        assert 0 <= current.held <= current.balance
        assert current.balance == self.expected_balance
        assert current.held == self.expected_held

    @invariant()
    def verify_is_clean(self) -> None:
        assert ledger.verify(self.user) == []


@pytest.mark.django_db
def test_random_operation_sequences_keep_every_invariant() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

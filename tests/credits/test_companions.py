"""Rows written in the same statement as a ledger entry (PostgreSQL): ``debit(also=...)`` and
the receivers of ``ledger_entry_writing``."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.models import signals as model_signals
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from quickscale.credits import ledger, signals
from quickscale.credits.exceptions import InsufficientCredits, InvalidArgument
from quickscale.credits.models import CreditTransaction
from tests.credits.conftest import HOUR, lapsed

#: A companion that names a group after the entry it rides with: its id, kind and balance.
NAME_A_GROUP = (
    "INSERT INTO auth_group (name) SELECT %s || quickscale_entry.id || ' ' || "
    "quickscale_entry.kind || ' ' || quickscale_entry.balance_after::text FROM quickscale_entry"
)


def group_names() -> list[str]:
    return sorted(Group.objects.values_list("name", flat=True))


@pytest.mark.postgres
def test_a_fast_debit_writes_its_companion_in_its_own_single_statement(user: Any) -> None:
    ledger.grant(user, 10, source="purchase", expires_at=None)

    with CaptureQueriesContext(connection) as queries:
        entry = ledger.debit(user, 3, also=[(NAME_A_GROUP, ["paid by "])])

    assert group_names() == [f"paid by {entry.pk} debit 7.00000000"]
    assert len(queries) == 1, [q["sql"][:80] for q in queries]  # one round trip


@pytest.mark.postgres
def test_a_debit_on_the_exact_path_writes_its_companion_too(user: Any) -> None:
    # A grant whose time ran out sends the debit down the exact path (the expiry first).
    lapsing = ledger.grant(user, 5, source="purchase", expires_at=timezone.now() + HOUR)
    ledger.grant(user, 5, source="purchase", expires_at=None)
    lapsed(lapsing)

    entry = ledger.debit(user, 4, also=[(NAME_A_GROUP, ["exact "])])

    assert group_names() == [f"exact {entry.pk} debit 1.00000000"]
    assert CreditTransaction.objects.filter(kind="expire").exists()


@pytest.mark.postgres
def test_a_refused_debit_writes_no_companion(user: Any) -> None:
    ledger.grant(user, 2, source="purchase", expires_at=None)

    with pytest.raises(InsufficientCredits):
        ledger.debit(user, 3, also=[(NAME_A_GROUP, ["never "])])

    assert group_names() == []
    assert ledger.balance(user).available == D(2)


@pytest.mark.postgres
def test_a_failing_companion_rolls_the_debit_back(user: Any) -> None:
    ledger.grant(user, 10, source="purchase", expires_at=None)
    broken = ("INSERT INTO auth_group (name) SELECT NULL FROM quickscale_entry", [])

    with pytest.raises(IntegrityError, match="null value"), transaction.atomic():
        ledger.debit(user, 3, also=[broken])

    assert ledger.balance(user).available == D(10)
    assert not CreditTransaction.objects.filter(kind="debit").exists()


@pytest.mark.postgres
def test_a_replayed_debit_does_not_write_its_companion_again(user: Any) -> None:
    ledger.grant(user, 10, source="purchase", expires_at=None)

    first = ledger.debit(user, 3, idempotency_key="k1", also=[(NAME_A_GROUP, ["once "])])
    again = ledger.debit(user, 3, idempotency_key="k1", also=[(NAME_A_GROUP, ["once "])])

    assert again.pk == first.pk
    assert group_names() == [f"once {first.pk} debit 7.00000000"]


def test_also_is_refused_off_postgresql_before_anything_is_written(user: Any, vendor: str) -> None:
    if vendor == "postgresql":
        pytest.skip("on PostgreSQL also= is accepted (the other tests)")
    ledger.grant(user, 10, source="purchase", expires_at=None)

    with pytest.raises(InvalidArgument, match="also= needs PostgreSQL"):
        ledger.debit(user, 3, also=[(NAME_A_GROUP, ["x "])])

    assert ledger.balance(user).available == D(10)


@pytest.fixture
def writing_receiver() -> Iterator[list[ledger.PendingEntry]]:
    """A receiver of ``ledger_entry_writing`` that names a group after every entry."""
    seen: list[ledger.PendingEntry] = []

    def receiver(sender: Any, entry: ledger.PendingEntry, **kwargs: Any) -> None:
        seen.append(entry)
        entry.write_with(NAME_A_GROUP, [f"{entry.reason}: "])

    signals.ledger_entry_writing.connect(receiver, dispatch_uid="test-companions")
    try:
        yield seen
    finally:
        signals.ledger_entry_writing.disconnect(dispatch_uid="test-companions")


@pytest.mark.postgres
def test_a_writing_receiver_adds_a_row_to_every_kind_of_entry(
    user: Any, writing_receiver: list[ledger.PendingEntry]
) -> None:
    ledger.grant(user, 10, source="purchase", expires_at=None, reason="grant")
    debited = ledger.debit(user, 4, reason="debit")
    ledger.hold(user, 2, reason="hold")
    ledger.refund(debited, 1, reason="refund")

    # The hold first allocated what the debit spent: a bookkeeping entry, written the same way.
    assert [(seen.kind, seen.amount, seen.reason) for seen in writing_receiver] == [
        ("grant", D(10), "grant"),
        ("debit", D(-4), "debit"),
        ("allocation", D(0), "debits taken from grants"),
        ("hold", D(0), "hold"),
        ("refund", D(1), "refund"),
    ]
    assert {seen.owner_id for seen in writing_receiver} == {user.pk}
    entries = CreditTransaction.objects.order_by("id")
    assert group_names() == sorted(
        f"{entry.reason}: {entry.pk} {entry.kind} {entry.balance_after:.8f}" for entry in entries
    )
    assert len(entries) == 5


@pytest.mark.postgres
def test_an_entry_with_companions_still_sends_the_models_save_signals(
    user: Any, writing_receiver: list[ledger.PendingEntry]
) -> None:
    saved: list[tuple[str, Any, bool]] = []

    def pre(sender: Any, instance: Any, **kwargs: Any) -> None:
        saved.append(("pre", instance.pk, kwargs.get("raw", False)))

    def post(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
        saved.append(("post", instance.pk, created))

    model_signals.pre_save.connect(pre, sender=CreditTransaction, dispatch_uid="test-pre")
    model_signals.post_save.connect(post, sender=CreditTransaction, dispatch_uid="test-post")
    try:
        entry = ledger.grant(user, 10, source="purchase", expires_at=None, reason="g")
    finally:
        model_signals.pre_save.disconnect(sender=CreditTransaction, dispatch_uid="test-pre")
        model_signals.post_save.disconnect(sender=CreditTransaction, dispatch_uid="test-post")

    assert saved == [("pre", None, False), ("post", entry.pk, True)]
    assert CreditTransaction.objects.get(pk=entry.pk).reason == "g"
    assert group_names() == [f"g: {entry.pk} grant 10.00000000"]

"""The hash chain: sealing off the hot path, verifying, and finding what was tampered with."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from quickscale.audit import chain, retention
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent, ChainHead
from tests.audit.conftest import raw

TABLE = AuditEvent._meta.db_table
pytestmark = pytest.mark.usefixtures("no_events_yet")


def events(count: int, action: str = "report.downloaded") -> list[AuditEvent]:
    recorded = [record(action, metadata={"number": number}) for number in range(count)]
    assert all(event is not None for event in recorded)
    return recorded  # type: ignore[return-value]


def old_events(count: int, days: int) -> list[AuditEvent]:
    """Events that occurred ``days`` ago (only a test may set the time itself)."""
    when = timezone.now() - timedelta(days=days)
    return [AuditEvent.objects.create(action="old.thing", occurred_at=when) for _ in range(count)]


def tamper(sql: str, params: list[Any]) -> None:
    """Change the table behind the guard's back, as a superuser could: on PostgreSQL with the
    trigger disabled for the statement, elsewhere directly."""
    if connection.vendor == "postgresql":
        raw(f"ALTER TABLE {TABLE} DISABLE TRIGGER quickscale_audit_append_only")
        raw(sql, params)
        raw(f"ALTER TABLE {TABLE} ENABLE TRIGGER quickscale_audit_append_only")
    else:
        raw(sql, params)


# -- sealing ----------------------------------------------------------------------------------


def test_events_are_written_unsealed() -> None:
    [event] = events(1)

    assert (event.chain_position, event.prev_hash, event.row_hash) == (None, None, None)
    assert chain.unsealed() == 1


def test_sealing_chains_events_in_id_order_batch_by_batch() -> None:
    written = events(5)
    calls: list[tuple[int, int]] = []

    sealed = chain.seal(batch_size=2, progress=lambda done, total: calls.append((done, total)))

    assert sealed == 5
    assert calls == [(2, 5), (4, 5), (5, 5)]
    rows = list(AuditEvent.objects.order_by("chain_position"))
    assert [row.pk for row in rows] == [event.pk for event in written]
    assert [row.chain_position for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == chain.GENESIS
    for previous, row in itertools.pairwise(rows):
        assert row.prev_hash == previous.row_hash
    head = chain.head()
    assert (head.position, head.hash) == (5, rows[-1].row_hash)
    assert chain.unsealed() == 0


@override_settings(QUICKSCALE_AUDIT_SEAL_BATCH_SIZE=3)
def test_one_sealing_step_seals_one_batch() -> None:
    events(5)

    assert chain.seal_batch() == 3
    assert chain.unsealed() == 2


def test_sealing_continues_the_chain() -> None:
    events(2)
    chain.seal()
    events(2)

    assert chain.seal() == 2
    assert list(AuditEvent.objects.order_by("id").values_list("chain_position", flat=True)) == [
        1,
        2,
        3,
        4,
    ]
    assert chain.verify().ok


def test_sealing_nothing_does_nothing() -> None:
    assert chain.seal() == 0
    assert chain.head().position == 0


# -- verifying --------------------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    events(5)
    chain.seal(batch_size=2)
    events(2)

    result = chain.verify()

    assert result.ok, result.problem
    assert (result.checked, result.unsealed, result.broken_id) == (5, 2, None)
    assert (result.first_position, result.last_position, result.head_position) == (1, 5, 5)


def test_an_empty_log_verifies() -> None:
    result = chain.verify()

    assert result.ok
    assert result.checked == 0


def test_a_changed_event_is_named() -> None:
    written = events(4)
    chain.seal()

    tamper(f"UPDATE {TABLE} SET actor_repr = 'someone else' WHERE id = %s", [written[2].pk])

    result = chain.verify()
    assert not result.ok
    assert result.broken_id == written[2].pk
    assert "changed after it was sealed" in result.problem
    assert result.checked == 2


def test_a_changed_event_whose_hash_was_recomputed_breaks_the_next_link() -> None:
    written = events(3)
    chain.seal()
    target = AuditEvent.objects.filter(pk=written[1].pk).values(*chain.HASHED_FIELDS).get()
    target["actor_repr"] = "someone else"
    forged = chain.digest(target)

    tamper(
        f"UPDATE {TABLE} SET actor_repr = 'someone else', row_hash = %s WHERE id = %s",
        [forged, written[1].pk],
    )

    result = chain.verify()
    assert result.broken_id == written[2].pk
    assert f"does not link to event {written[1].pk}" in result.problem


def test_a_deleted_event_is_noticed_at_the_next_one() -> None:
    written = events(4)
    chain.seal()

    _delete_behind_the_guard(written[1].pk)

    result = chain.verify()
    assert result.broken_id == written[2].pk
    assert "positions 2 to 2 are missing" in result.problem


def test_events_deleted_from_the_start_without_a_prune_are_noticed() -> None:
    written = events(3)
    chain.seal()

    _delete_behind_the_guard(written[0].pk)

    result = chain.verify()
    assert result.broken_id == written[1].pk
    assert "no prune removed the positions before it" in result.problem


def test_events_deleted_from_the_end_are_noticed() -> None:
    written = events(3)
    chain.seal()

    _delete_behind_the_guard(written[2].pk)

    result = chain.verify()
    assert not result.ok
    assert "positions 3 to 3 are missing from the end" in result.problem


def test_an_event_sealed_behind_the_sealers_back_is_noticed() -> None:
    events(2)
    chain.seal()
    last = AuditEvent.objects.order_by("-chain_position").first()
    assert last is not None
    [forged] = events(1)
    row = AuditEvent.objects.filter(pk=forged.pk).values(*chain.HASHED_FIELDS).get()
    row["chain_position"], row["prev_hash"] = 3, last.row_hash
    tamper(
        f"UPDATE {TABLE} SET chain_position = 3, prev_hash = %s, row_hash = %s WHERE id = %s",
        [last.row_hash, chain.digest(row), forged.pk],
    )

    result = chain.verify()
    assert result.broken_id == forged.pk
    assert "past the chain head" in result.problem


@pytest.mark.postgres
def test_tampering_by_a_superuser_who_disables_the_trigger_is_named() -> None:
    written = events(3)
    chain.seal()

    raw(f"ALTER TABLE {TABLE} DISABLE TRIGGER quickscale_audit_append_only")
    raw(f"UPDATE {TABLE} SET action = 'report.viewed' WHERE id = %s", [written[1].pk])
    raw(f"ALTER TABLE {TABLE} ENABLE TRIGGER quickscale_audit_append_only")

    result = chain.verify()
    assert result.broken_id == written[1].pk
    assert not result.ok


def _delete_behind_the_guard(pk: int) -> None:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            raw("SELECT set_config('quickscale.audit_prune', 'on', true)")
        raw(f"DELETE FROM {TABLE} WHERE id = %s", [pk])
        if connection.vendor == "postgresql":
            raw("SELECT set_config('quickscale.audit_prune', 'off', true)")


# -- pruning ----------------------------------------------------------------------------------


def test_a_prune_removes_old_events_and_the_chain_still_verifies() -> None:
    old_events(3, days=400)
    recent = events(2)

    result = retention.prune(timezone.now() - timedelta(days=365))

    assert (result.deleted, result.through_position) == (3, 3)
    remaining = list(AuditEvent.objects.order_by("chain_position"))
    assert [event.pk for event in remaining[:2]] == [event.pk for event in recent]
    assert remaining[-1].action == "audit.pruned"
    assert result.event is not None
    assert result.event.metadata["through_position"] == 3
    assert result.event.metadata["events"] == 3
    verification = chain.verify()
    assert verification.ok, verification.problem
    assert verification.first_position == 4


def test_a_prune_keeps_events_sealed_after_a_newer_one() -> None:
    # Sealing order is what a prune follows: an old event sealed after a recent one stays.
    events(1)
    old_events(1, days=400)
    chain.seal()

    result = retention.prune(timezone.now() - timedelta(days=365))

    assert result.through_position is None
    assert AuditEvent.objects.filter(action="old.thing").exists()


def test_a_dry_run_only_counts() -> None:
    old_events(3, days=400)

    result = retention.prune(timezone.now() - timedelta(days=365), dry_run=True)

    assert (result.deleted, result.through_position, result.event) == (3, 3, None)
    assert AuditEvent.objects.count() == 3


def test_an_interrupted_prune_still_verifies_and_finishes_when_run_again() -> None:
    old_events(4, days=400)
    events(1)
    cutoff = timezone.now() - timedelta(days=365)
    chain.seal()
    # What a prune that stopped after its first batch leaves: its event, and some old events.
    first = AuditEvent.objects.order_by("chain_position").first()
    assert first is not None
    through = AuditEvent.objects.filter(action="old.thing").order_by("-chain_position").first()
    assert through is not None
    record(
        "audit.pruned",
        metadata={
            "through_position": through.chain_position,
            "through_hash": through.row_hash,
            "events": 4,
        },
    )
    chain.seal()
    _delete_behind_the_guard(first.pk)

    assert chain.verify().ok

    retention.prune(cutoff)

    assert not AuditEvent.objects.filter(action="old.thing").exists()
    assert chain.verify().ok


def test_an_unsealed_prune_record_is_not_trusted() -> None:
    written = events(3)
    chain.seal()
    record(
        "audit.pruned",
        metadata={"through_position": 1, "through_hash": written[0].row_hash or "x"},
    )
    _delete_behind_the_guard(written[0].pk)

    assert not chain.verify().ok


def test_pruning_in_batches_reports_progress() -> None:
    old_events(5, days=400)
    calls: list[tuple[int, int]] = []

    retention.prune(
        timezone.now() - timedelta(days=365),
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(2, 5), (4, 5), (5, 5)]


# -- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_newer_ones_were_sealed_joins_the_chain(
    no_events_yet: None,
) -> None:
    """A transaction that wrote its event early and commits late (a long service run) gets a
    lower id than events sealed before it commits; it is sealed next, at the end of the chain."""
    written = threading.Event()
    release = threading.Event()
    late: dict[str, int] = {}

    def long_transaction() -> None:
        try:
            with transaction.atomic():
                event = record("service.ran")
                assert event is not None
                late["id"] = event.pk
                written.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=long_transaction)
    worker.start()
    assert written.wait(10)
    quick = events(2)
    chain.seal()  # seals the two quick events; the long transaction's is not visible yet
    release.set()
    worker.join(10)

    assert chain.seal() == 1
    positions = dict(AuditEvent.objects.values_list("id", "chain_position"))
    assert late["id"] < quick[0].pk
    assert positions[late["id"]] == 3
    assert chain.verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sealers_running_at_once_build_one_chain(no_events_yet: None) -> None:
    events(40)
    errors: list[BaseException] = []

    def sealer() -> None:
        try:
            chain.seal(batch_size=3)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sealer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    positions = sorted(AuditEvent.objects.values_list("chain_position", flat=True))
    assert positions == list(range(1, 41))
    assert chain.verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_writers_do_not_wait_for_a_sealer(no_events_yet: None) -> None:
    events(3)
    locked = threading.Event()
    done = threading.Event()

    def slow_sealer() -> None:
        try:
            with transaction.atomic():
                ChainHead.objects.get_or_create(pk=1)
                ChainHead.objects.select_for_update().get(pk=1)
                locked.set()
                done.wait(10)
        finally:
            connections.close_all()

    sealer = threading.Thread(target=slow_sealer)
    sealer.start()
    assert locked.wait(10)
    try:
        with transaction.atomic():
            raw("SET LOCAL lock_timeout = '2s'")
            assert record("report.downloaded") is not None
    finally:
        done.set()
        sealer.join(10)


# -- partitions dropped instead of rows --------------------------------------------------------


def _drop_partition(before: Any) -> None:
    """What dropping the partitions before ``before`` does: every older row goes at once."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            raw("SELECT set_config('quickscale.audit_prune', 'on', true)")
        raw(f"DELETE FROM {TABLE} WHERE occurred_at < %s", [before])
        if connection.vendor == "postgresql":
            raw("SELECT set_config('quickscale.audit_prune', 'off', true)")


def test_a_recorded_prune_lets_whole_partitions_be_dropped() -> None:
    old_events(3, days=400)
    events(2)
    cutoff = timezone.now() - timedelta(days=365)

    result = retention.prune(cutoff, delete=False)
    _drop_partition(cutoff)

    assert (result.deleted, result.through_position, result.late) == (0, 3, 0)
    verification = chain.verify()
    assert verification.ok, verification.problem
    assert verification.first_position == 4


def test_late_events_in_a_dropped_partition_are_stepped_over() -> None:
    # An old event sealed after newer ones (its transaction committed late) lives in the old
    # partition; the recorded prune names it so its gap is known.
    old_events(2, days=400)
    chain.seal()
    events(2)
    old_events(1, days=400)
    events(1)
    cutoff = timezone.now() - timedelta(days=365)

    result = retention.prune(cutoff, delete=False)
    _drop_partition(cutoff)

    assert (result.through_position, result.late) == (2, 1)
    verification = chain.verify()
    assert verification.ok, verification.problem


def test_a_partition_dropped_without_a_recorded_prune_is_noticed() -> None:
    old_events(3, days=400)
    events(2)
    chain.seal()
    cutoff = timezone.now() - timedelta(days=365)

    _drop_partition(cutoff)

    assert "no prune removed the positions before it" in chain.verify().problem

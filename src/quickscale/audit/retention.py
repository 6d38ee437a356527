"""Retention: removing old events without breaking the chain's verification.

:func:`prune` removes a *prefix* of the chain: every event up to the last position before which
all events are older than the cut-off. It first seals what is unsealed, then records an
``audit.pruned`` event (who pruned, the cut-off, and the position and hash of the last event
removed), seals that too, and only then deletes, in batches of one transaction each. Verifying
later starts from the first remaining event and checks that it links to the hash the prune
recorded, so a prune is told apart from events deleted by anyone else. An interrupted prune is
finished by running it again.

On PostgreSQL each batch sets ``quickscale.audit_prune`` for its own transaction only (``SET
LOCAL``), the one thing that lets the append-only trigger accept a ``DELETE``.

A log partitioned by time drops whole partitions instead (see the partitioning recipe in the
docs): ``prune(..., delete=False)`` records the prune without deleting. It then also records the
position and hashes of every *late* event before the cut-off (one sealed after a newer event,
because its transaction committed late), which the partition drop removes too, so verifying
can step over exactly those positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import QuerySet

from quickscale.audit import chain
from quickscale.audit.exceptions import InvalidAuditArgument
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PruneResult:
    """What :func:`prune` removed (or, with ``dry_run``, would remove)."""

    deleted: int
    through_position: int | None
    event: AuditEvent | None
    #: Events before the cut-off sealed after ``through_position`` (recorded with
    #: ``delete=False``; a deleting prune keeps them for a later prune).
    late: int = 0


def prune(
    before: datetime,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    delete: bool = True,
    progress: Progress | None = None,
    using: str | None = None,
) -> PruneResult:
    """Remove the events that occurred before ``before`` (an aware datetime), as a prefix of
    the chain. Events sealed after a newer one (a late commit) stay until a later prune.
    With ``delete=False`` nothing is deleted: the prune is only recorded, late events included,
    for a partition drop to remove the rows."""
    if not isinstance(before, datetime) or before.tzinfo is None:
        raise InvalidAuditArgument("before must be an aware datetime.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidAuditArgument("batch_size must be a positive number of events.")
    using = using or router.db_for_write(AuditEvent)
    events = AuditEvent.objects.using(using)
    chain.seal(using=using)
    through = _last_prunable_position(events, before)
    start = (
        events.filter(chain_position__isnull=False)
        .order_by("chain_position")
        .values_list("chain_position", flat=True)
        .first()
    )
    if through is None or start is None or through < start:
        return PruneResult(0, None, None)
    total = events.filter(chain_position__lte=through).count()
    late = (
        list(
            events.filter(chain_position__gt=through, occurred_at__lt=before)
            .order_by("chain_position")
            .values_list("chain_position", "prev_hash", "row_hash")
        )
        if not delete
        else []
    )
    if dry_run:
        return PruneResult(total, through, None, len(late))
    through_hash = events.filter(chain_position=through).values_list("row_hash", flat=True).get()
    metadata: dict[str, object] = {
        "before": before,
        "through_position": through,
        "through_hash": through_hash,
        "events": total,
        "deleted_rows": delete,
    }
    if late:
        metadata["late"] = [list(entry) for entry in late]
    event = record("audit.pruned", metadata=metadata, using=using)
    chain.seal(using=using)  # the anchor verify trusts must itself be sealed
    if not delete:
        return PruneResult(0, through, event, len(late))
    deleted = 0
    while batch := _delete_batch(using, through, batch_size):
        deleted += batch
        if progress is not None:
            progress(deleted, max(total, deleted))
    return PruneResult(deleted, through, event)


def _last_prunable_position(events: QuerySet[AuditEvent], before: datetime) -> int | None:
    """The last chain position before which every sealed event occurred before ``before``."""
    sealed = events.filter(chain_position__isnull=False)
    first_kept = (
        sealed.filter(occurred_at__gte=before)
        .order_by("chain_position")
        .values_list("chain_position", flat=True)
        .first()
    )
    if first_kept is not None:
        return int(first_kept) - 1
    last = sealed.order_by("-chain_position").values_list("chain_position", flat=True).first()
    return None if last is None else int(last)


def _delete_batch(using: str, through: int, size: int) -> int:
    connection = connections[using]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('quickscale.audit_prune', 'on', true)")
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} "  # noqa: S608
            "WHERE chain_position <= %s ORDER BY chain_position LIMIT %s)",
            [through, size],
        )
        return int(cursor.rowcount)

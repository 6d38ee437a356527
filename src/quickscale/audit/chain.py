"""The hash chain: sealing events into it, and verifying it.

Events are inserted with empty hash columns, so writers never wait on one another or on the
chain. :func:`seal` later takes the chain head's row lock (one sealer at a time), reads unsealed
events in id order, ``QUICKSCALE_AUDIT_SEAL_BATCH_SIZE`` at a time, and gives each the next
``chain_position``, the previous event's hash and its own hash: SHA-256 of a canonical JSON
document of the event, its position and the previous hash.

The chain is ordered by ``chain_position``, the order of sealing, not by id. Ids are drawn when
a row is inserted but transactions commit in any order, so an event may become visible after
events with higher ids were sealed (a long transaction that wrote it early). It is then simply
sealed by the next batch, at the end of the chain: no event is ever skipped, and sealing never
has to wait for a transaction still in flight or guess how long one might last.

:func:`verify` walks the chain in order and reports the first event whose content, position or
link does not match, and how many events are not sealed yet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from quickscale.audit.log import COLUMNS
from quickscale.audit.models import AuditEvent, ChainHead

__all__ = [
    "GENESIS",
    "Pruned",
    "Verification",
    "digest",
    "head",
    "seal",
    "seal_batch",
    "unsealed",
    "verify",
]

Progress = Callable[[int, int], None]

#: The "previous hash" of the first event ever sealed.
GENESIS = "0" * 64
#: Every column covered by an event's hash, in the order of the canonical document.
HASHED_FIELDS = ("id", "occurred_at", *COLUMNS, "chain_position", "prev_hash")
#: Events read per query while verifying.
VERIFY_BATCH = 2000


def digest(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON document of an event given as ``{field: value}``
    (every field of ``HASHED_FIELDS``)."""
    document = {name: row[name] for name in HASHED_FIELDS}
    document["occurred_at"] = _timestamp(row["occurred_at"])
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if timezone.is_aware(value):
        value = value.astimezone(dt_timezone.utc)
    return value.isoformat(timespec="microseconds")


def _database(using: str | None) -> str:
    return using or router.db_for_write(AuditEvent)


# -- sealing -----------------------------------------------------------------------------------


def seal(
    *, batch_size: int | None = None, progress: Progress | None = None, using: str | None = None
) -> int:
    """Seal every event not sealed yet, one batch (one transaction) at a time; returns how many
    were sealed. Events committed while it runs are sealed too, until none is left."""
    using = _database(using)
    total = unsealed(using=using) if progress is not None else 0
    sealed = 0
    while count := seal_batch(batch_size=batch_size, using=using):
        sealed += count
        if progress is not None:
            progress(sealed, max(total, sealed))
    return sealed


def seal_batch(*, batch_size: int | None = None, using: str | None = None) -> int:
    """Seal the oldest unsealed events, at most ``batch_size`` (default
    ``QUICKSCALE_AUDIT_SEAL_BATCH_SIZE``); returns how many were sealed."""
    using = _database(using)
    size = batch_size or settings.QUICKSCALE_AUDIT_SEAL_BATCH_SIZE
    with transaction.atomic(using=using):
        top = _locked_head(using)
        rows = list(
            AuditEvent.objects.using(using)
            .filter(row_hash=None)
            .order_by("id")
            .values(*HASHED_FIELDS)[:size]
        )
        if not rows:
            return 0
        position, previous = top.position, top.hash or GENESIS
        updates = []
        for row in rows:
            position += 1
            row["chain_position"], row["prev_hash"] = position, previous
            previous = digest(row)
            updates.append((position, row["prev_hash"], previous, row["id"]))
        table = connections[using].ops.quote_name(AuditEvent._meta.db_table)
        with connections[using].cursor() as cursor:
            # The one UPDATE the append-only trigger allows: hash columns from NULL to a value.
            cursor.executemany(
                f"UPDATE {table} SET chain_position = %s, prev_hash = %s, row_hash = %s "  # noqa: S608
                "WHERE id = %s AND row_hash IS NULL",
                updates,
            )
        ChainHead.objects.using(using).filter(pk=top.pk).update(
            position=position, hash=previous, sealed_at=timezone.now()
        )
    return len(rows)


def _locked_head(using: str) -> ChainHead:
    """The chain head, locked until the transaction ends. It is written before it is read: on
    SQLite, whose ``SELECT ... FOR UPDATE`` is a no-op, the write is what makes a second
    sealer wait, so it never reads a head the first is about to move."""
    heads = ChainHead.objects.using(using)
    heads.get_or_create(pk=1)
    heads.filter(pk=1).update(position=F("position"))
    return heads.select_for_update().get(pk=1)


def head(*, using: str | None = None) -> ChainHead:
    """The end of the sealed chain (position 0 before anything was sealed)."""
    found = ChainHead.objects.using(_database(using)).filter(pk=1).first()
    return found or ChainHead(position=0, hash="")


def unsealed(*, using: str | None = None) -> int:
    """How many events wait for sealing (a count over a small partial index)."""
    return AuditEvent.objects.using(_database(using)).filter(row_hash=None).count()


# -- verifying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found. ``broken_id`` names the first event that does not match
    (``None`` when the chain is intact, or when events are missing from its end)."""

    checked: int
    unsealed: int
    first_position: int | None
    last_position: int | None
    head_position: int
    head_hash: str
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Whether the chain checked out (no problem was found)."""
        return not self.problem


@dataclass(frozen=True)
class Pruned:
    """What sealed ``audit.pruned`` events say was removed: every position up to ``through``
    (whose hash was ``through_hash``), and single events sealed later than newer ones whose
    partition was dropped (``late``: position -> (previous hash, hash))."""

    through: int = 0
    through_hash: str = GENESIS
    late: dict[int, tuple[str, str]] | None = None


def verify(*, progress: Progress | None = None, using: str | None = None) -> Verification:
    """Check every sealed event in chain order: its hash matches its content, its position
    follows the previous one, and its previous hash is the previous event's hash.

    Positions may be missing only where a sealed ``audit.pruned`` event says they were pruned:
    the chain then starts after the prune's last position and links to the hash it recorded.
    The chain head must be the last event, so sealed events deleted from the end are noticed.
    """
    using = _database(using)
    events = AuditEvent.objects.using(using)
    top = head(using=using)
    total = events.filter(row_hash__isnull=False).count() if progress is not None else 0
    pruned = _pruned(using)
    checked = 0
    first: int | None = None
    # The chain's start as the first event must see it: the genesis, or the prune's anchor.
    last: dict[str, Any] = {
        "id": None,
        "chain_position": pruned.through,
        "row_hash": pruned.through_hash,
    }

    def result(broken_id: int | None = None, problem: str = "") -> Verification:
        return Verification(
            checked=checked,
            unsealed=unsealed(using=using),
            first_position=first,
            last_position=last["chain_position"] if checked else None,
            head_position=top.position,
            head_hash=top.hash,
            broken_id=broken_id,
            problem=problem,
        )

    for row in _sealed_rows(using):
        position = row["chain_position"]
        if first is None:
            first = position
        if first == position and position <= pruned.through:
            # A prune that stopped part of the way: the events before this one were pruned
            # with authority, so its link to them cannot be checked and is not needed.
            problem = ""
        else:
            problem = _link_problem(row, last, pruned)
        if not problem and position > top.position:
            problem = (
                f"event {row['id']} (position {position}) is past the chain head "
                f"(position {top.position}): it was not sealed by the sealing step."
            )
        if not problem and digest(row) != row["row_hash"]:
            problem = f"event {row['id']} was changed after it was sealed: its hash does not match."
        if problem:
            return result(row["id"], problem)
        last = row
        checked += 1
        if progress is not None and checked % VERIFY_BATCH == 0:
            progress(checked, max(total, checked))
    if progress is not None:
        progress(checked, max(total, checked))
    end, end_hash = _skip_late(last["chain_position"], last["row_hash"], pruned, top.position)
    if top.position > end:
        return result(
            None,
            f"sealed events at positions {end + 1} to {top.position} are missing from the end "
            "of the chain.",
        )
    if top.position == end and top.hash != end_hash and top.position > 0:
        return result(last["id"], f"event {last['id']} does not match the chain head's hash.")
    return result()


def _sealed_rows(using: str) -> Iterator[dict[str, Any]]:
    """Sealed events in chain order, read in keyset batches."""
    after = 0
    while True:
        rows = list(
            AuditEvent.objects.using(using)
            .filter(chain_position__gt=after)
            .order_by("chain_position")
            .values(*HASHED_FIELDS, "row_hash")[:VERIFY_BATCH]
        )
        yield from rows
        if len(rows) < VERIFY_BATCH:
            return
        after = rows[-1]["chain_position"]


def _pruned(using: str) -> Pruned:
    """Everything sealed ``audit.pruned`` events say was removed: the latest prune's anchor,
    and the late events of every prune."""
    anchor: tuple[int, str] | None = None
    late: dict[int, tuple[str, str]] = {}
    records = (
        AuditEvent.objects.using(using)
        .filter(action="audit.pruned", row_hash__isnull=False)
        .order_by("chain_position")
        .values_list("metadata", flat=True)
    )
    for metadata in records:
        if not isinstance(metadata, dict):
            continue
        position, value = metadata.get("through_position"), metadata.get("through_hash")
        if isinstance(position, int) and isinstance(value, str):
            anchor = (position, value)
        for entry in metadata.get("late") or []:
            if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int):
                late[entry[0]] = (str(entry[1]), str(entry[2]))
    if anchor is None:
        return Pruned(late=late)
    return Pruned(anchor[0], anchor[1], late)


def _skip_late(position: int, value: str, pruned: Pruned, stop: int) -> tuple[int, str]:
    """Walk on from ``(position, hash)`` over consecutive late events a prune removed (not
    past ``stop``), checking nothing; returns where that leads."""
    late = pruned.late or {}
    while position + 1 in late and position + 1 <= stop and late[position + 1][0] == value:
        position += 1
        value = late[position][1]
    return position, value


def _link_problem(row: dict[str, Any], last: dict[str, Any], pruned: Pruned) -> str:
    position = row["chain_position"]
    before, before_hash = _skip_late(last["chain_position"], last["row_hash"], pruned, position)
    if position != before + 1:
        if last["id"] is None and before == 0:
            return (
                f"the chain starts at event {row['id']} (position {position}), but no prune "
                "removed the positions before it: events were deleted."
            )
        return (
            f"events at positions {before + 1} to {position - 1} are missing before event "
            f"{row['id']}: they were deleted."
        )
    if row["prev_hash"] != before_hash:
        if last["id"] is None:
            return (
                f"event {row['id']} (position {position}) does not link to the start of the chain."
            )
        return (
            f"event {row['id']} does not link to event {last['id']} before it: one of them was "
            "changed after it was sealed."
        )
    return ""

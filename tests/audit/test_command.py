"""``manage.py audit``: seal, verify, prune, export and triggers, through the real parser."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from quickscale.audit import chain
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from quickscale.core.context import context
from tests.audit.conftest import raw

TABLE = AuditEvent._meta.db_table
pytestmark = pytest.mark.usefixtures("no_events_yet")


def audit(*args: str) -> tuple[str, str]:
    """Run ``manage.py audit <args>``; what it wrote to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def old_events(count: int, days: int) -> None:
    when = timezone.now() - timedelta(days=days)
    for _ in range(count):
        AuditEvent.objects.create(action="old.thing", occurred_at=when)


# -- seal and verify ------------------------------------------------------------------------


def test_seal_seals_every_new_event() -> None:
    for _ in range(3):
        record("report.downloaded")

    out, err = audit("seal", "--batch-size", "2")

    assert "Sealed 3 event(s); the chain ends at position 3." in out
    assert "Sealing events" in err
    assert chain.unsealed() == 0


def test_seal_is_quiet_with_verbosity_0() -> None:
    record("report.downloaded")

    _, err = audit("seal", "-v", "0")

    assert err == ""


def test_verify_reports_an_intact_chain_its_head_and_unsealed_events() -> None:
    record("report.downloaded")
    chain.seal()
    record("report.downloaded")

    out, _ = audit("verify")

    assert "1 event(s) are not sealed yet" in out
    assert "1 sealed event(s) verified: the chain is intact." in out
    assert f"Chain head: position 1, hash {chain.head().hash}." in out


def test_verify_fails_naming_the_first_tampered_event() -> None:
    events = [record("report.downloaded") for _ in range(3)]
    chain.seal()
    assert events[1] is not None
    if connection.vendor == "postgresql":
        raw(f"ALTER TABLE {TABLE} DISABLE TRIGGER quickscale_audit_append_only")
    raw(f"UPDATE {TABLE} SET ip = '192.0.2.66' WHERE id = %s", [events[1].pk])
    if connection.vendor == "postgresql":
        raw(f"ALTER TABLE {TABLE} ENABLE TRIGGER quickscale_audit_append_only")

    with pytest.raises(CommandError, match=f"broken at event {events[1].pk}: ") as error:
        audit("verify", "-v", "0")

    assert "1 event(s) before it verified" in str(error.value)


# -- prune ----------------------------------------------------------------------------------


def test_prune_removes_old_events_and_records_itself() -> None:
    old_events(3, days=400)
    record("report.downloaded")

    out, err = audit("prune", "--older-than-days", "365")

    assert "Removed 3 event(s) before" in out
    assert "Pruning events" in err
    pruned = AuditEvent.objects.get(action="audit.pruned")
    assert pruned.actor_type == "system"
    assert pruned.actor_repr == "manage.py audit prune"
    assert f"recorded as event {pruned.pk}" in out
    assert not AuditEvent.objects.filter(action="old.thing").exists()
    assert chain.verify().ok


@override_settings(QUICKSCALE_AUDIT_RETENTION_DAYS=30)
def test_prune_keeps_the_retention_setting_by_default() -> None:
    old_events(2, days=31)
    old_events(1, days=29)

    out, _ = audit("prune", "-v", "0")

    assert "Removed 2 event(s)" in out


def test_prune_dry_run_changes_nothing() -> None:
    old_events(2, days=400)

    out, _ = audit("prune", "--older-than-days", "365", "--dry-run")

    assert "Would remove 2 event(s) before" in out
    assert AuditEvent.objects.filter(action="old.thing").count() == 2
    assert not AuditEvent.objects.filter(action="audit.pruned").exists()


def test_prune_record_only_deletes_no_row() -> None:
    old_events(2, days=400)
    record("report.downloaded")

    out, _ = audit("prune", "--older-than-days", "365", "--record-only", "-v", "0")

    assert "no row was deleted: drop the partitions that hold them now" in out
    assert AuditEvent.objects.filter(action="old.thing").count() == 2
    assert AuditEvent.objects.get(action="audit.pruned").metadata["deleted_rows"] is False


def test_prune_with_nothing_old_says_so() -> None:
    record("report.downloaded")

    out, _ = audit("prune", "--before", "2000-01-01")

    assert "nothing to prune" in out


def test_prune_needs_a_date_or_a_retention() -> None:
    with pytest.raises(CommandError, match="Give --before or --older-than-days"):
        audit("prune")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--before", "31/01/2026"], "must be a date such as 2026-01-31"),
        (["--before", "2026-02-30"], "must be a date such as 2026-01-31"),
        (["--older-than-days", "0"], "at least 1"),
        (["--older-than-days", "ten"], "at least 1"),
        (["--older-than-days", "99999"], "at most 36500 days"),
        (["--before", "2026-01-01", "--older-than-days", "3"], "not allowed with argument"),
        (["--batch-size", "0"], "at least 1"),
    ],
)
def test_prune_refuses_bad_arguments_with_a_clear_message(
    arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        audit("prune", *arguments)


def test_prune_refuses_a_date_in_the_future() -> None:
    with pytest.raises(CommandError, match="is in the future"):
        audit("prune", "--before", "2999-01-01")


# -- export ---------------------------------------------------------------------------------


@pytest.fixture
def mixed(user: Any) -> list[AuditEvent]:
    with context(actor=user, ip="192.0.2.1"):
        recorded = [
            record("apikey.created", metadata={"name": "CI"}),
            record("apikey.revoked", metadata={"reason": '=HYPERLINK("x")'}),
            record("credits.granted"),
        ]
    return [event for event in recorded if event is not None]


def test_export_writes_json_lines_oldest_first(mixed: list[AuditEvent]) -> None:
    out, _ = audit("export")

    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["action"] for line in lines[:3]] == [
        "apikey.created",
        "apikey.revoked",
        "credits.granted",
    ]
    assert lines[0]["metadata"] == {"name": "CI"}
    assert lines[0]["ip"] == "192.0.2.1"
    assert set(lines[0]) >= {"occurred_at", "actor_id", "row_hash", "chain_position"}


def test_export_filters_like_the_staff_page(mixed: list[AuditEvent], user: Any) -> None:
    out, _ = audit("export", "--action", "apikey.*", "--actor", user.username)

    assert [json.loads(line)["action"] for line in out.splitlines()] == [
        "apikey.created",
        "apikey.revoked",
    ]


def test_export_writes_csv_to_a_file(mixed: list[AuditEvent], tmp_path: Path) -> None:
    target = tmp_path / "audit.csv"

    _, err = audit("export", "--format", "csv", "--output", str(target), "--action", "apikey.*")

    with target.open(encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert "Wrote 2 event(s)" in err
    assert [row["action"] for row in rows] == ["apikey.created", "apikey.revoked"]
    assert json.loads(rows[0]["metadata"]) == {"name": "CI"}
    assert json.loads(rows[1]["metadata"]) == {"reason": '=HYPERLINK("x")'}


def test_a_csv_cell_that_looks_like_a_formula_is_defused(db: None) -> None:
    with context(user_agent="=cmd|' /C calc'!A0"):
        record("report.downloaded")

    out, _ = audit("export", "--format", "csv")

    row = next(csv.DictReader(io.StringIO(out)))
    assert row["user_agent"] == "'=cmd|' /C calc'!A0"


def test_every_export_is_recorded(mixed: list[AuditEvent]) -> None:
    audit("export", "--action", "credits.*")

    event = AuditEvent.objects.get(action="audit.exported")
    assert event.actor_repr == "manage.py audit export"
    assert event.metadata["filters"]["action"] == "credits.*"
    assert event.metadata["format"] == "jsonl"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "yesterday"], "since: Enter a valid date/time."),
        (["--action", "Not An Action"], "action: Give an action such as"),
        (["--actor-type", "robot"], "actor_type: Select a valid choice."),
        (["--target-type", "apikey"], "target_type: Give the target type as app_label.model"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "until: “Until” must be after"),
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--bogus", "1"], "unrecognized arguments: --bogus"),
    ],
)
def test_export_refuses_bad_filters_with_a_clear_message(
    arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        audit("export", *arguments)


def test_export_to_an_unwritable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot write"):
        audit("export", "--output", str(tmp_path / "missing" / "audit.jsonl"))


# -- triggers ---------------------------------------------------------------------------------


@pytest.mark.sqlite
def test_row_level_capture_needs_postgresql() -> None:
    with pytest.raises(CommandError, match="Row-level capture needs PostgreSQL"):
        audit("triggers", "install")

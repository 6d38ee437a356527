"""``manage.py audit``: the audit log for operators.

``seal`` hashes new events into the chain, ``verify`` checks the chain and names the first event
that does not match, ``prune`` removes old events (recording that it did), ``export`` writes
events as JSON Lines or CSV with the staff page's filters, and ``triggers`` installs or removes
row-level capture on PostgreSQL. Mistakes (a bad date, an unknown filter value) end with a
one-line ``CommandError``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TextIO

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from quickscale.audit import chain, export, retention, triggers
from quickscale.audit.log import record
from quickscale.audit.models import AuditEvent
from quickscale.audit.search import EventFilterForm
from quickscale.core.commands import SubcommandCommand
from quickscale.core.progress import Progress

#: A century: far enough for any real retention, near enough that the date cannot overflow.
MAX_DAYS = 36500


def positive_int(text: str) -> int:
    """Parse a whole number of at least 1 (``--batch-size``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def days(text: str) -> int:
    """Parse ``--older-than-days``: a whole number of days from 1 to :data:`MAX_DAYS`."""
    value = positive_int(text)
    if value > MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_DAYS} days, not {text!r}")
    return value


def moment(text: str) -> datetime:
    """A date or date and time (``2026-01-31``, ``2026-01-31 14:00``), in the current time
    zone unless it names one."""
    try:
        value = forms.DateTimeField().clean(text)
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"must be a date such as 2026-01-31 or 2026-01-31 14:00, not {text!r}"
        ) from None
    assert isinstance(value, datetime)
    return value


class Command(SubcommandCommand):
    help = "Seal, verify, prune and export the audit log, and manage row-level capture."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")

        seal = commands.add_parser("seal", help="Hash every new event into the chain.")
        seal.add_argument(
            "--batch-size",
            type=positive_int,
            help="Events per transaction (default: QUICKSCALE_AUDIT_SEAL_BATCH_SIZE).",
        )

        check = commands.add_parser(
            "verify",
            help="Check the chain; fails naming the first event that does not match.",
        )

        prune = commands.add_parser(
            "prune", help="Remove old events, as a prefix of the chain; the prune is recorded."
        )
        when = prune.add_mutually_exclusive_group()
        when.add_argument("--before", type=moment, help="Remove events before this date.")
        when.add_argument(
            "--older-than-days",
            type=days,
            help="Remove events older than this (default: QUICKSCALE_AUDIT_RETENTION_DAYS).",
        )
        prune.add_argument(
            "--batch-size", type=positive_int, default=1000, help="Events per transaction."
        )
        prune.add_argument(
            "--dry-run", action="store_true", help="Only say how many events would go."
        )
        prune.add_argument(
            "--record-only",
            action="store_true",
            help="Record the prune without deleting rows, before dropping the partitions that "
            "hold them (see the partitioning recipe).",
        )

        out = commands.add_parser("export", help="Write events as JSON Lines or CSV.")
        out.add_argument("--format", choices=export.FORMATS, default="jsonl")
        out.add_argument("--output", help="A file to write (default: standard output).")
        for name in EventFilterForm.base_fields:
            field = EventFilterForm.base_fields[name]
            out.add_argument(f"--{name.replace('_', '-')}", dest=name, help=str(field.help_text))

        capture = commands.add_parser(
            "triggers", help="Row-level capture of QUICKSCALE_AUDIT_TRIGGER_MODELS (PostgreSQL)."
        )
        capture.add_argument(
            "action",
            choices=["install", "remove", "status"],
            help="install: match the setting; remove: from every table; status: list them.",
        )

        self.accept_verbosity([seal, check, prune, out], help="0 hides progress.")

    # -- seal and verify --------------------------------------------------------------------

    def handle_seal(self, *, batch_size: int | None, verbosity: int, **options: Any) -> None:
        with self._progress("Sealing events", verbosity, options) as progress:
            sealed = chain.seal(batch_size=batch_size, progress=progress)
        head = chain.head()
        self.stdout.write(
            self.style.SUCCESS(
                f"Sealed {sealed} event(s); the chain ends at position {head.position}."
            )
        )

    def handle_verify(self, *, verbosity: int, **options: Any) -> None:
        with self._progress("Verifying the chain", verbosity, options) as progress:
            result = chain.verify(progress=progress)
        if result.unsealed:
            self.stdout.write(
                self.style.WARNING(
                    f"{result.unsealed} event(s) are not sealed yet: run `audit seal`."
                )
            )
        if not result.ok:
            where = f"event {result.broken_id}" if result.broken_id is not None else "the chain"
            raise CommandError(
                f"The audit chain is broken at {where}: {result.problem} "
                f"({result.checked} event(s) before it verified)."
            )
        self.stdout.write(
            self.style.SUCCESS(f"{result.checked} sealed event(s) verified: the chain is intact.")
        )
        if result.head_position:
            self.stdout.write(
                f"Chain head: position {result.head_position}, hash {result.head_hash}. "
                "Keep it somewhere else to detect later removals from the end."
            )

    # -- prune ----------------------------------------------------------------------------

    def handle_prune(
        self,
        *,
        before: datetime | None,
        older_than_days: int | None,
        batch_size: int,
        dry_run: bool,
        record_only: bool,
        verbosity: int,
        **options: Any,
    ) -> None:
        if before is None:
            keep = older_than_days or settings.QUICKSCALE_AUDIT_RETENTION_DAYS
            if keep is None:
                raise CommandError(
                    "Give --before or --older-than-days, or set QUICKSCALE_AUDIT_RETENTION_DAYS."
                )
            before = timezone.now() - timedelta(days=keep)
        if before > timezone.now():
            raise CommandError(f"--before is in the future ({before:%Y-%m-%d %H:%M %Z}).")
        label = f"{timezone.localtime(before):%Y-%m-%d %H:%M %Z}"
        with self._progress("Pruning events", verbosity, options) as progress:
            result = retention.prune(
                before,
                batch_size=batch_size,
                dry_run=dry_run,
                delete=not record_only,
                progress=progress,
            )
        if result.through_position is None:
            self.stdout.write(f"No sealed events before {label}: nothing to prune.")
        elif dry_run:
            late = f", and {result.late} late event(s)" if result.late else ""
            self.stdout.write(
                f"Would remove {result.deleted} event(s) before {label} "
                f"(chain positions up to {result.through_position}{late})."
            )
        elif record_only:
            late = f" and {result.late} late event(s)" if result.late else ""
            self.stdout.write(
                self.style.SUCCESS(
                    f"Recorded the prune of the events before {label} (chain positions up to "
                    f"{result.through_position}{late}) as event "
                    f"{result.event.pk if result.event else '-'}; no row was deleted: drop the "
                    "partitions that hold them now."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Removed {result.deleted} event(s) before {label} (chain positions up to "
                    f"{result.through_position}); recorded as event "
                    f"{result.event.pk if result.event else '-'}."
                )
            )

    # -- export ---------------------------------------------------------------------------

    def handle_export(
        self, *, format: str, output: str | None, verbosity: int, **options: Any
    ) -> None:
        data = {name: options[name] for name in EventFilterForm.base_fields if options.get(name)}
        form = EventFilterForm(data)
        if not form.is_valid():
            raise CommandError(f"Invalid filters: {form.errors_text()}")
        found = form.filter(AuditEvent.objects.all())
        record(
            "audit.exported",
            metadata={"format": format, "filters": form.cleaned_data, "to": output or "stdout"},
        )
        lines = (export.csv_lines if format == "csv" else export.jsonl_lines)(export.events(found))
        if output is None:
            for line in lines:
                self.stdout.write(line, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8", newline="") as stream:
                count = self._write(lines, stream)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror}.") from None
        if verbosity:
            # The CSV header is a line too.
            self.stderr.write(f"Wrote {count - (format == 'csv')} event(s) to {output}.")

    @staticmethod
    def _write(lines: Iterator[str], stream: TextIO) -> int:
        count = 0
        for line in lines:
            stream.write(line)
            count += 1
        return count

    # -- triggers -------------------------------------------------------------------------

    def handle_triggers(self, *, action: str, **options: Any) -> None:
        if action == "install":
            added, removed = triggers.sync()
            for table in added:
                self.stdout.write(f"Capturing every row change of {table}.")
            for table in removed:
                self.stdout.write(f"No longer capturing {table} (not in the setting).")
            if not added and not removed:
                self.stdout.write("QUICKSCALE_AUDIT_TRIGGER_MODELS is empty: nothing to capture.")
        elif action == "remove":
            tables = triggers.remove()
            self.stdout.write(
                f"Removed row-level capture from {', '.join(tables)}."
                if tables
                else "No table had row-level capture."
            )
        else:
            captured = triggers.installed()
            if not captured:
                self.stdout.write("No table has row-level capture.")
            for table in sorted(captured):
                self.stdout.write(f"{table}: every inserted, updated and deleted row is recorded.")

    @contextmanager
    def _progress(
        self, label: str, verbosity: int, options: dict[str, Any]
    ) -> Iterator[Progress | None]:
        if verbosity < 1:
            yield None
            return
        # The raw stream: Django's stderr wrapper would colour the line and end each write
        # with a newline, which breaks a line redrawn in place.
        with Progress(options.get("stderr") or sys.stderr, label) as progress:
            yield progress

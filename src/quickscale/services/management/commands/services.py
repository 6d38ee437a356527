"""``manage.py services``: the service catalog and runs for operators.

``list`` shows what the site sells, ``sync`` mirrors the registered classes into the catalog
and ``run`` runs a service for a user through :func:`quickscale.services.execution.execute`,
charging credits exactly as the application would. Mistakes (an unknown user or service, bad
JSON or input, too few credits) and failed runs end with a one-line ``CommandError``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.core.serializers.json import DjangoJSONEncoder

from quickscale.core.commands import SubcommandCommand
from quickscale.core.errors import QuickScaleError
from quickscale.core.users import USER_HELP, find_user
from quickscale.credits import ledger
from quickscale.credits.amounts import display
from quickscale.services import execution
from quickscale.services.base import BaseService
from quickscale.services.exceptions import InvalidInput
from quickscale.services.models import RunStatus, Service, ServiceRun
from quickscale.services.registry import registry


def price_label(service: type[BaseService] | None, entry: Service | None) -> str:
    """The price as staff set it, else the class's fixed cost, else "computed"."""
    if entry is not None and entry.price_override is not None:
        return display(entry.price_override)
    if service is None:
        return "-"
    if service.get_cost is not BaseService.get_cost:
        return "computed"
    return display(Decimal(service.cost))


def mode_label(service: type[BaseService] | None) -> str:
    """A service's mode for ``list`` (``held, async`` for one run in the background); ``-``
    when its code is gone."""
    if service is None:
        return "-"
    return f"{service.mode}, async" if service.run_async else service.mode


def yes_no(value: bool) -> str:
    """``yes`` or ``no``, for ``list``."""
    return "yes" if value else "no"


class Command(SubcommandCommand):
    help = "List and sync the service catalog, and run a service for a user."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        commands.add_parser("list", help="Show every service: price, mode, and whether it can run.")
        commands.add_parser(
            "sync", help="Add new services to the catalog and flag the ones whose code is gone."
        )
        run = commands.add_parser(
            "run", help="Run a service for a user, charging their credits, and show the result."
        )
        run.add_argument("user", help=USER_HELP)
        run.add_argument("service", help="The service's slug, as `services list` shows it.")
        run.add_argument(
            "--input",
            dest="input_json",
            default="{}",
            help='The input as a JSON object, e.g. \'{"text": "Hello"}\'. Default: {}.',
        )
        run.add_argument(
            "--idempotency-key", help="Running again with the same key returns the first run."
        )

    def describe(self, error: QuickScaleError) -> str:
        return _input_errors(error) if isinstance(error, InvalidInput) else error.message

    def handle_list(self, **options: Any) -> None:
        entries = Service.objects.in_bulk(field_name="slug")
        rows = []
        for service in registry.all():
            entry = entries.pop(service.slug, None)
            rows.append(
                (
                    service.slug,
                    service.name or service.slug,
                    price_label(service, entry),
                    mode_label(service),
                    yes_no(entry is None or entry.enabled),
                    yes_no(service().is_available()),
                )
            )
        # Catalog rows whose class is gone (its app was removed) cannot run; show them anyway.
        for entry in sorted(entries.values(), key=lambda entry: entry.slug):
            rows.append(
                (
                    entry.slug,
                    entry.name,
                    price_label(None, entry),
                    "-",
                    yes_no(entry.enabled),
                    "no (not registered)",
                )
            )
        if not rows:
            self.stdout.write("No services are registered.")
            return
        header = ("SLUG", "NAME", "PRICE", "MODE", "ENABLED", "AVAILABLE")
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(6)]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )

    def handle_sync(self, **options: Any) -> None:
        before = {
            slug: (name, description, registered)
            for slug, name, description, registered in Service.objects.values_list(
                "slug", "name", "description", "registered"
            )
        }
        current = execution.sync_catalog()
        added = sum(1 for entry in current if entry.slug not in before)
        updated = sum(
            1
            for entry in current
            if entry.slug in before
            and before[entry.slug] != (entry.name, entry.description, entry.registered)
        )
        slugs = {entry.slug for entry in current}
        gone = sum(1 for slug, row in before.items() if row[2] and slug not in slugs)
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced the service catalog: {len(current)} registered service(s), "
                f"{added} added, {updated} updated, {gone} no longer registered."
            )
        )

    def handle_run(
        self,
        *,
        user: str,
        service: str,
        input_json: str,
        idempotency_key: str | None,
        **options: Any,
    ) -> None:
        owner = find_user(user)
        try:
            data = json.loads(input_json)
        except ValueError as error:
            raise CommandError(f"--input is not valid JSON: {error}.") from None
        if not isinstance(data, dict):
            raise CommandError(f"--input must be a JSON object, not {type(data).__name__}.")
        replay = idempotency_key is not None and (
            ServiceRun.objects.filter(user=owner, idempotency_key=idempotency_key).exists()
        )
        run = execution.execute(owner, service, data, idempotency_key=idempotency_key)
        if replay:
            self.stdout.write(
                self.style.WARNING(f"Already run with this idempotency key: showing run {run.pk}.")
            )
        self._show_run(run, service)
        self._show_balance(owner)
        if run.status == RunStatus.FAILED:
            raise CommandError(f"Run {run.pk} of {service} failed: {run.error}")

    def _show_run(self, run: ServiceRun, slug: str) -> None:
        style = {
            RunStatus.SUCCEEDED: self.style.SUCCESS,
            RunStatus.FAILED: self.style.ERROR,
        }.get(RunStatus(run.status), self.style.WARNING)
        self.stdout.write(style(f"Run {run.pk} of {slug}: {run.status}"))
        if run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
            self.stdout.write(f"  reserved:     {display(run.reserved)} (runs in the background)")
            return
        self.stdout.write(
            f"  cost:         {display(run.cost if run.cost is not None else Decimal(0))}"
        )
        if run.duration_ms is not None:
            self.stdout.write(f"  duration:     {run.duration_ms} ms")
        if run.status == RunStatus.SUCCEEDED:
            self.stdout.write("Output:")
            self.stdout.write(
                json.dumps(run.output, indent=2, ensure_ascii=False, cls=DjangoJSONEncoder)
            )

    def _show_balance(self, owner: Any) -> None:
        current = ledger.balance(owner)
        self.stdout.write(f"Credits of {owner}:")
        for name in ("balance", "held", "available"):
            self.stdout.write(f"  {name + ':':<14}{getattr(current, name):>14}")


def _input_errors(error: InvalidInput) -> str:
    """``InvalidInput`` with each field's messages: ``text: This field is required.``"""
    if not isinstance(error.details, dict) or not error.details:
        return error.message
    problems = "; ".join(
        f"{'input' if field == '__all__' else field}: {' '.join(map(str, messages))}"
        for field, messages in error.details.items()
    )
    return f"The input is invalid. {problems}"

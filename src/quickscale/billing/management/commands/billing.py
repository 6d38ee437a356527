"""``manage.py billing``: the Stripe side of billing for operators.

``sync`` mirrors the catalog; ``reconcile`` lists what differs between Stripe and our records
(missed webhooks) and, with ``--repair``, fixes it; ``replay`` processes one event again. Each
goes through the same functions as the webhooks, so nothing is ever granted twice. Without the
Stripe settings every subcommand stops with an error naming the missing ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import transaction

from quickscale.billing import catalog, handlers, reconcile
from quickscale.billing.client import get_client, require_enabled
from quickscale.billing.models import EventStatus, Price, WebhookEvent
from quickscale.billing.objects import as_data, is_missing, moment, unavailable
from quickscale.core.commands import SubcommandCommand
from quickscale.core.progress import Progress

#: Stripe keeps events for 30 days; sessions, invoices and refunds for ever.
MAX_DAYS = 3650


def days_argument(text: str) -> int:
    """Parse ``--days``: a whole number of days from 1 to :data:`MAX_DAYS`."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be a number of days from 1 to {MAX_DAYS}")
    return days


class Command(SubcommandCommand):
    help = "Sync the catalog from Stripe, reconcile with Stripe, replay a webhook event."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        sync = commands.add_parser(
            "sync", help="Mirror Stripe's products and prices (packs and plans)."
        )
        check = commands.add_parser(
            "reconcile",
            help="List what differs between Stripe and our records; --repair fixes it.",
        )
        check.add_argument(
            "--repair", action="store_true", help="Fix every difference found (idempotent)."
        )
        check.add_argument(
            "--days",
            type=days_argument,
            default=30,
            help="How far back to look at payments and refunds (default: 30).",
        )
        replay = commands.add_parser(
            "replay",
            help="Process a webhook event again; one never received is fetched from Stripe.",
        )
        replay.add_argument("event", help="The Stripe event id (evt_...).")
        self.accept_verbosity([sync, check, replay], help="0 prints only problems.")

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        import stripe

        try:
            super().handle(*args, subcommand=subcommand, **options)
        except stripe.StripeError as error:
            raise CommandError(unavailable(error).message) from None

    @contextmanager
    def _progress(
        self, verbosity: int, options: dict[str, Any]
    ) -> Iterator[Callable[[str], Progress | None]]:
        """A ``progress(label)`` factory for the steps of a subcommand, each step's line
        written to the raw stderr (redrawn in place on a terminal); nothing with ``-v 0``."""
        stream = options.get("stderr") or sys.stderr
        opened: list[Progress] = []

        def make(label: str) -> Progress | None:
            for previous in opened:
                previous.close()
            if verbosity < 1:
                return None
            opened.append(Progress(stream, label))
            return opened[-1]

        try:
            yield make
        finally:
            for progress in opened:
                progress.close()

    def handle_sync(self, *, verbosity: int, **options: Any) -> None:
        require_enabled()
        with self._progress(verbosity, options) as make:
            result = catalog.sync_catalog(progress=make("Mirroring prices"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {result.prices} price(s) of {result.products} product(s): "
                f"{len(result.created)} new, {len(result.updated)} changed, "
                f"{len(result.deactivated)} no longer on sale."
            )
        )
        if verbosity >= 1:
            for price in Price.objects.on_sale().select_related("product"):
                self.stdout.write(
                    f"  {price.stripe_id}  {price.get_kind_display():<18} {price}: "
                    f"{price.amount_display}"
                    f"{' / ' + price.interval_display if price.interval else ''}, "
                    f"{price.credits_display} credits"
                )
            for price in Price.objects.filter(active=True, credits__isnull=True):
                self.stdout.write(
                    self.style.WARNING(
                        f"  {price.stripe_id} ({price}) has no 'credits' metadata: not offered."
                    )
                )

    def handle_reconcile(self, *, repair: bool, days: int, verbosity: int, **options: Any) -> None:
        require_enabled()
        with self._progress(verbosity, options) as make:
            differences = reconcile.reconcile(days=days, repair=repair, progress=make)
        for difference in differences:
            state = ""
            if difference.repaired is True:
                state = self.style.SUCCESS(" [repaired]")
            elif difference.repaired is False:
                state = self.style.ERROR(f" [repair failed: {difference.error}]")
            self.stdout.write(
                f"{difference.kind:<12} {difference.stripe_id:<32} {difference.problem}{state}"
            )
        failed = [d for d in differences if d.repaired is False]
        if failed:
            raise CommandError(f"{len(failed)} of {len(differences)} repair(s) failed.")
        counts = ", ".join(
            f"{count} {kind}" for kind, count in reconcile.summary(differences).items()
        )
        if not differences:
            self.stdout.write(
                self.style.SUCCESS(f"Stripe and our records agree (last {days} days).")
            )
        elif repair:
            self.stdout.write(self.style.SUCCESS(f"Repaired {len(differences)}: {counts}."))
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(differences)} difference(s): {counts}. Run with --repair to fix them."
                )
            )

    def handle_replay(self, *, event: str, verbosity: int, **options: Any) -> None:
        require_enabled()
        stored = WebhookEvent.objects.filter(stripe_id=event).first()
        if stored is None:
            stored = self._fetch(event)
        result = handlers.process(stored.pk, force=True)
        line = f"{result.stripe_id} ({result.type}): {result.status}"
        if result.status == EventStatus.FAILED:
            raise CommandError(f"{line}: {result.error}")
        self.stdout.write(self.style.SUCCESS(f"{line}{': ' + result.note if result.note else ''}"))

    def _fetch(self, event_id: str) -> WebhookEvent:
        """An event we never stored, as Stripe's API returns it (authenticated by our key)."""
        import stripe

        if not event_id.startswith("evt_"):
            raise CommandError(f"No stored event {event_id!r}, and it is not a Stripe event id.")
        try:
            data = as_data(get_client().v1.events.retrieve(event_id))
        except stripe.InvalidRequestError as error:
            if is_missing(error):
                raise CommandError(
                    f"No event {event_id!r} here or at Stripe (Stripe keeps events 30 days)."
                ) from None
            raise
        if data.get("type") not in handlers.HANDLED_TYPES:
            raise CommandError(f"{event_id} is a {data.get('type')} event, which is not handled.")
        # Stored as the webhook would have stored it: plain JSON.
        payload = json.loads(json.dumps(data, default=str))
        with transaction.atomic():
            found, _ = WebhookEvent.objects.get_or_create(
                stripe_id=event_id,
                defaults={
                    "type": data["type"],
                    "object_id": handlers.object_id(data),
                    "livemode": bool(data.get("livemode")),
                    "api_version": (data.get("api_version") or "")[:50],
                    "payload": payload,
                    "created": moment(data.get("created")),
                },
            )
        return found

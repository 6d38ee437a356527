"""``manage.py credits``: the credit ledger for operators.

Every subcommand goes through :mod:`quickscale.credits.ledger`, so what an operator does here is
recorded, validated and idempotent exactly as if the application had done it. Mistakes (an
unknown user, a bad amount, too few credits) end with a one-line ``CommandError``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from quickscale.core.commands import SubcommandCommand
from quickscale.core.errors import QuickScaleError
from quickscale.core.progress import Progress
from quickscale.core.users import USER_HELP, find_user
from quickscale.credits import ledger
from quickscale.credits.amounts import parse_amount
from quickscale.credits.models import CreditAccount, CreditTransaction, GrantSource

#: A century: far enough for any real expiry, near enough that the date cannot overflow.
MAX_DAYS = 36500


def positive_days(text: str) -> int:
    """Parse ``--expires-in-days``: a whole number of days from 1 to :data:`MAX_DAYS`."""
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"must be a number of days from 1 to {MAX_DAYS}, not {text!r}"
        )
    return days


def amount_argument(text: str) -> Decimal:
    """Parse an amount given on the command line; one the ledger would refuse ends the command
    with a ``CommandError`` saying why."""
    try:
        return parse_amount(text)
    except QuickScaleError as error:
        raise CommandError(error.message) from None


class Command(SubcommandCommand):
    help = "Grant, deduct, show, verify and expire credits."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")

        grant = commands.add_parser("grant", help="Give a user credits.")
        grant.add_argument("user", help=USER_HELP)
        grant.add_argument("amount", help="Credits to give, e.g. 25 or 12.50.")
        grant.add_argument(
            "--source", required=True, choices=GrantSource.values, help="Where they come from."
        )
        grant.add_argument(
            "--expires-in-days",
            type=positive_days,
            help="Expire them after this many days (default: the setting for the source).",
        )
        grant.add_argument("--reason", default="", help="Why, for the ledger entry.")
        grant.add_argument(
            "--idempotency-key", help="Running again with the same key grants nothing more."
        )

        deduct = commands.add_parser("deduct", help="Remove available credits from a user.")
        deduct.add_argument("user", help=USER_HELP)
        deduct.add_argument("amount", help="Credits to remove, e.g. 25 or 12.50.")
        deduct.add_argument("--reason", required=True, help="Why, for the ledger entry.")
        deduct.add_argument(
            "--idempotency-key", help="Running again with the same key deducts nothing more."
        )

        show = commands.add_parser("balance", help="Show a user's credits.")
        show.add_argument("user", help=USER_HELP)

        verify = commands.add_parser(
            "verify", help="Check the ledger's invariants; fails when any is broken."
        )
        verify.add_argument("user", nargs="?", help=f"{USER_HELP} Default: every account.")

        expire = commands.add_parser("expire", help="Expire due grants and release expired holds.")

        self.accept_verbosity([grant, deduct, show, verify, expire], help="0 hides progress.")

    def handle_grant(
        self,
        *,
        user: str,
        amount: str,
        source: str,
        expires_in_days: int | None,
        reason: str,
        idempotency_key: str | None,
        **options: Any,
    ) -> None:
        owner = find_user(user)
        value = amount_argument(amount)
        first = self._first_use(owner, idempotency_key)
        expiry: dict[str, Any] = {}
        if expires_in_days is not None:
            expiry["expires_at"] = timezone.now() + timedelta(days=expires_in_days)
        entry = ledger.grant(
            owner,
            value,
            source=source,
            reason=reason,
            idempotency_key=idempotency_key,
            **expiry,
        )
        expires = entry.grant.expires_at if entry.grant else None
        self._done(
            first is not None,
            f"Granted {value} {source} credits to {owner} "
            f"({f'expiring {expires:%Y-%m-%d %H:%M %Z}' if expires else 'never expiring'}).",
        )
        self._show_balance(owner)

    def handle_deduct(
        self,
        *,
        user: str,
        amount: str,
        reason: str,
        idempotency_key: str | None,
        **options: Any,
    ) -> None:
        owner = find_user(user)
        value = amount_argument(amount)
        first = self._first_use(owner, idempotency_key)
        ledger.adjust(owner, -value, reason=reason, idempotency_key=idempotency_key)
        self._done(first is not None, f"Deducted {value} credits from {owner}.")
        self._show_balance(owner)

    def handle_balance(self, *, user: str, **options: Any) -> None:
        owner = find_user(user)
        self.stdout.write(f"Credits of {owner}:")
        self._show_balance(owner)
        by_source = ledger.breakdown(owner)
        if by_source:
            self.stdout.write("Unexpired credits by source (held credits not included):")
            for source, value in by_source.items():
                self.stdout.write(f"  {source + ':':<14}{value:>14}")

    def handle_verify(self, *, user: str | None, verbosity: int, **options: Any) -> None:
        owner = find_user(user) if user is not None else None
        accounts = CreditAccount.objects.all()
        if owner is not None:
            accounts = accounts.filter(owner=owner)
        count = accounts.count()
        with self._progress("Verifying accounts", verbosity, options) as progress:
            problems = ledger.verify(owner, progress=progress)
        owners = {
            account.pk: account.owner
            for account in CreditAccount.objects.select_related("owner").filter(
                pk__in={problem.account_id for problem in problems}
            )
        }
        for problem in problems:
            self.stdout.write(
                f"Account {problem.account_id} ({owners.get(problem.account_id)}) "
                f"[{problem.code}]: {problem.message}",
                self.style.ERROR,
            )
        if problems:
            raise CommandError(
                f"{len(problems)} problem(s) found in "
                f"{len({problem.account_id for problem in problems})} of {count} account(s)."
            )
        self.stdout.write(self.style.SUCCESS(f"{count} account(s) verified: no problems."))

    def handle_expire(self, *, verbosity: int, **options: Any) -> None:
        now = timezone.now()
        with self._progress("Expiring grants (accounts)", verbosity, options) as progress:
            grants = ledger.expire_due(now=now, progress=progress)
        with self._progress("Releasing expired holds", verbosity, options) as progress:
            holds = ledger.release_expired_holds(now=now, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Expired {grants} grant(s) and released {holds} expired hold(s).")
        )

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

    def _first_use(self, owner: Any, idempotency_key: str | None) -> CreditTransaction | None:
        """The entry an earlier run recorded with ``idempotency_key``, if any."""
        if idempotency_key is None:
            return None
        return (
            CreditTransaction.objects.filter(account__owner=owner, idempotency_key=idempotency_key)
            .select_related("grant")
            .first()
        )

    def _done(self, replay: bool, message: str) -> None:
        if replay:
            self.stdout.write(
                self.style.WARNING(f"Already done with this idempotency key: {message}")
            )
        else:
            self.stdout.write(self.style.SUCCESS(message))

    def _show_balance(self, owner: Any) -> None:
        current = ledger.balance(owner)
        for name in ("balance", "held", "available"):
            self.stdout.write(f"  {name + ':':<14}{getattr(current, name):>14}")

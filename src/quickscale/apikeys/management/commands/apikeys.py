"""``manage.py apikeys``: API keys for operators.

``create`` and ``roll`` print the new token once, as the keys page does; nothing can show it
again. ``list`` shows masked keys only. Every subcommand goes through
:mod:`quickscale.apikeys.keys`, so a key made here is validated exactly as one made on the
page. Mistakes (an unknown user or key, a malformed scope or network) end with a one-line
``CommandError``.
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from quickscale.apikeys import keys
from quickscale.apikeys.models import APIKey
from quickscale.apikeys.scopes import SCOPES
from quickscale.core.commands import SubcommandCommand
from quickscale.core.users import USER_HELP, find_user

KEY_HELP = "The key: its key id, or the masked key as `apikeys list` shows it."
#: A century: far enough for any real expiry, near enough that the date cannot overflow.
MAX_DAYS = 36500
#: A key id alone, or at the start of a masked key (``qs_live_<key id>.…``).
_KEY_RE = re.compile(r"(?:[a-z][a-z0-9]{1,15}_(?:live|test)_)?(?P<key_id>[0-9A-Za-z]{12})(?:\..*)?")


def bounded_int(low: int, high: int, unit: str) -> Any:
    """An argparse ``type`` for a whole number of ``unit`` from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a number of {unit} from {low} to {high}, not {text!r}"
            )
        return value

    return parse


def find_key(text: str) -> APIKey:
    """The key named by ``text`` (its key id, or the masked key); ``CommandError`` if none."""
    match = _KEY_RE.fullmatch(text.strip())
    key = None
    if match is not None:
        key = APIKey.objects.select_related("owner").filter(key_id=match["key_id"]).first()
    if key is None:
        raise CommandError(f"No API key has the id {text!r}.")
    return key


def status(key: APIKey) -> str:
    """``active`` (with its expiry, if any), ``expired`` or ``revoked``, for the listings."""
    if key.revoked_at is not None:
        return "revoked"
    if not key.is_active:
        return "expired"
    if key.expires_at is not None:
        return f"active until {when(key.expires_at)}"
    return "active"


def when(value: datetime | None) -> str:
    """A time as the command prints it, in the current time zone; ``-`` for none."""
    return "-" if value is None else f"{timezone.localtime(value):%Y-%m-%d %H:%M %Z}"


class Command(SubcommandCommand):
    help = "Create, list, roll and revoke API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")

        create = commands.add_parser("create", help="Make a key for a user and print it once.")
        create.add_argument("user", help=USER_HELP)
        create.add_argument("--name", required=True, help="What the key is for, e.g. 'CI'.")
        create.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            default=[],
            metavar="SCOPE",
            help=f"A scope to grant; repeat for more. Known scopes: {', '.join(SCOPES)}.",
        )
        create.add_argument(
            "--env",
            dest="environment",
            choices=["live", "test"],
            default="live",
            help="The environment named in the token (default: live).",
        )
        create.add_argument(
            "--expires-in-days",
            type=bounded_int(1, MAX_DAYS, "days"),
            help="Stop the key after this many days (default: never).",
        )
        create.add_argument(
            "--allowed-ip",
            dest="allowed_ips",
            action="append",
            default=[],
            metavar="CIDR",
            help="An address or network the key may be used from; repeat for more (default: any).",
        )
        create.add_argument(
            "--rate-limit",
            type=bounded_int(1, 1_000_000, "requests a minute"),
            help="Requests a minute (default: the QUICKSCALE_APIKEYS_RATE_LIMIT setting).",
        )

        listing = commands.add_parser("list", help="Show keys, masked, newest first.")
        listing.add_argument("user", nargs="?", help=f"{USER_HELP} Default: every user.")

        roll = commands.add_parser(
            "roll", help="Replace a key with a new one; the old one works for a grace period."
        )
        roll.add_argument("key", help=KEY_HELP)
        roll.add_argument(
            "--grace",
            type=bounded_int(0, 10**8, "seconds"),
            help="Seconds the old key keeps working (default: the "
            "QUICKSCALE_APIKEYS_ROLL_GRACE setting).",
        )

        revoke = commands.add_parser("revoke", help="Stop a key at once.")
        revoke.add_argument("key", help=KEY_HELP)
        revoke.add_argument("--reason", default="", help="Why, recorded on the key.")

        self.accept_verbosity(
            [create, listing, roll, revoke], help="0 prints only the new token (create, roll)."
        )

    def handle_create(
        self,
        *,
        user: str,
        name: str,
        scopes: list[str],
        environment: str,
        expires_in_days: int | None,
        allowed_ips: list[str],
        rate_limit: int | None,
        verbosity: int,
        **options: Any,
    ) -> None:
        owner = find_user(user)
        expires_at = None
        if expires_in_days is not None:
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        key, token = keys.create_key(
            owner,
            name,
            scopes=scopes,
            environment=environment,
            expires_at=expires_at,
            allowed_ips=allowed_ips,
            rate_limit=rate_limit,
        )
        for scope in key.scopes:
            if scope not in SCOPES:
                self.stderr.write(
                    self.style.WARNING(
                        f"{scope!r} is not a scope of the API; only your own endpoints "
                        f"can check it."
                    )
                )
        if not key.scopes:
            self.stderr.write(self.style.WARNING("The key has no scopes: it can call nothing."))
        self._show_token(f"Created the key {key.name!r} for {owner}.", key, token, verbosity)

    def handle_list(self, *, user: str | None, **options: Any) -> None:
        found = APIKey.objects.select_related("owner").order_by("-created_at", "-id")
        if user is not None:
            found = found.filter(owner=find_user(user))
        rows = [
            (
                key.masked,
                str(key.owner),
                key.name,
                ",".join(key.scopes) or "-",
                status(key),
                when(key.created_at),
                when(key.last_used_at),
            )
            for key in found.iterator()
        ]
        if not rows:
            self.stdout.write("No API keys.")
            return
        headers = ("KEY", "OWNER", "NAME", "SCOPES", "STATUS", "CREATED", "LAST USED")
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
        for row in [headers, *rows]:
            self.stdout.write(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(row, widths, strict=True)
                ).rstrip()
            )

    def handle_roll(self, *, key: str, grace: int | None, verbosity: int, **options: Any) -> None:
        old = find_key(key)
        new, token = keys.roll_key(old, grace=grace)
        old.refresh_from_db()
        self._show_token(
            f"Rolled {old.masked}: it keeps working until {when(old.expires_at)}.",
            new,
            token,
            verbosity,
        )

    def handle_revoke(self, *, key: str, reason: str, **options: Any) -> None:
        found = find_key(key)
        if found.revoked_at is not None:
            self.stdout.write(
                self.style.WARNING(
                    f"{found.masked} was revoked already, on {when(found.revoked_at)}."
                )
            )
            return
        keys.revoke_key(found, reason=reason)
        self.stdout.write(
            self.style.SUCCESS(f"Revoked {found.masked} ({found.name!r} of {found.owner}).")
        )

    def _show_token(self, summary: str, key: APIKey, token: str, verbosity: int) -> None:
        """The token alone on stdout with ``-v 0`` (for scripts), else with what it is."""
        if verbosity < 1:
            self.stdout.write(token)
            return
        self.stdout.write(self.style.SUCCESS(summary))
        self.stdout.write(f"  key:      {key.masked}")
        self.stdout.write(f"  scopes:   {', '.join(key.scopes) or '-'}")
        self.stdout.write(f"  expires:  {when(key.expires_at) if key.expires_at else 'never'}")
        self.stdout.write("")
        self.stdout.write(f"  {token}")
        self.stdout.write("")
        self.stdout.write(
            self.style.WARNING(
                "Copy the key now: it will not be shown again, and it cannot be recovered."
            )
        )

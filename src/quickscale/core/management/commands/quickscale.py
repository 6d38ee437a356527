"""``manage.py quickscale sweep``: the periodic upkeep of every installed app.

``sweep`` runs once; ``sweep --every 60`` runs every 60 seconds until stopped (SIGTERM or
Ctrl-C end it between two sweeps): the one scheduled process a deployment needs.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connections

from quickscale.core import maintenance
from quickscale.core.commands import SubcommandCommand
from quickscale.core.errors import QuickScaleError


def seconds(text: str) -> int:
    """Parse ``--every``: a whole number of seconds from 1 to 86400."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 86400:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds from 1 to 86400, not {text!r}"
        )
    return value


class Command(SubcommandCommand):
    help = "Upkeep of the quickscale apps: expire credits, finish interrupted runs, seal the log."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="subcommand")
        run = commands.add_parser(
            "sweep",
            help="Expire due grants, release run-out holds, fail runs that cannot finish, "
            "seal the audit log.",
        )
        run.add_argument(
            "--every",
            type=seconds,
            metavar="SECONDS",
            help="Sweep again every SECONDS until stopped (e.g. 60).",
        )
        self.accept_verbosity([run], "0 prints only failures.")

    def handle_sweep(self, *, every: int | None = None, verbosity: int = 1, **options: Any) -> None:
        if every is None:
            self._once(verbosity)
            return
        stop = threading.Event()
        for stopping in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stopping, lambda *_: stop.set())
        while not stop.is_set():
            started = time.monotonic()
            try:
                self._once(verbosity)
            except CommandError as error:
                # Kept running: the next sweep may succeed (the database is back).
                self.stderr.write(str(error))
            finally:
                # Each pass connects afresh: a connection broken by a database restart, during
                # the pass or the wait, is never used again.
                connections.close_all()
            stop.wait(max(0.0, every - (time.monotonic() - started)))

    def _once(self, verbosity: int) -> None:
        try:
            done = maintenance.sweep()
        except QuickScaleError as error:
            raise CommandError(error.message) from None
        if verbosity >= 1:
            self.stdout.write(
                "Swept: " + "; ".join(f"{name}: {result}" for name, result in done.items())
            )

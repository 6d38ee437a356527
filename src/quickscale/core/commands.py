"""The base of the suite's management commands: subcommands handled by ``handle_<name>``
methods, and errors with a code shown as a plain message instead of a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from quickscale.core.errors import QuickScaleError


class SubcommandCommand(BaseCommand):
    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        handler = getattr(self, f"handle_{subcommand}")
        try:
            handler(**options)
        except QuickScaleError as error:
            raise CommandError(self.describe(error)) from None

    def describe(self, error: QuickScaleError) -> str:
        """The message a failed subcommand prints; override for richer errors."""
        return error.message

    @staticmethod
    def accept_verbosity(parsers: Iterable[argparse.ArgumentParser], help: str) -> None:
        """Let ``-v`` follow the subcommand too (``command sub -v 0``), where argparse would
        otherwise refuse the main parser's option."""
        for parser in parsers:
            parser.add_argument(
                "-v",
                "--verbosity",
                type=int,
                choices=[0, 1, 2, 3],
                default=argparse.SUPPRESS,
                help=help,
            )

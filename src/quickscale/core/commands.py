"""The base of the suite's management commands: subcommands handled by ``handle_<name>``
methods, errors with a code shown as a plain message instead of a traceback, and a ``system``
actor in :mod:`quickscale.core.context` (``manage.py <command> <subcommand>``), so what a
command changes is attributed to it."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from quickscale.core.context import Actor, context, current, new_request_id
from quickscale.core.errors import QuickScaleError


class SubcommandCommand(BaseCommand):
    """A management command made of subcommands: ``handle`` calls ``handle_<subcommand>`` as a
    ``system`` actor (unless the caller has one), and a ``QuickScaleError`` ends it as a
    ``CommandError`` with :meth:`describe`'s message."""

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        handler = getattr(self, f"handle_{subcommand}")
        name = self.__module__.rpartition(".")[2]
        request_id = current().request_id or new_request_id()
        # A command called from code that has an actor (a test, a task) keeps it.
        if current().actor_source:
            scope = context(request_id=request_id)
        else:
            scope = context(
                request_id=request_id, actor=Actor.system(f"manage.py {name} {subcommand}")
            )
        try:
            with scope:
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

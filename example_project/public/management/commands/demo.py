"""``manage.py demo``: one command from a fresh clone to a running site."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from public.demo_catalog import seed_demo_catalog


class Command(BaseCommand):
    help = (
        "Apply the migrations, add a demo catalog while billing is off, then serve the "
        "example project on a development server."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        if seed_demo_catalog():
            self.stdout.write(
                "Added a demo catalog: billing is off (no Stripe keys), so the pricing page "
                "shows it as unavailable."
            )
        # The reloader would re-run this command, and migrate, in a child process.
        call_command("runserver", f"{host}:{port}", use_reloader=False)

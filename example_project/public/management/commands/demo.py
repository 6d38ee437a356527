"""``manage.py demo``: one command from a fresh clone to a running site with data in it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from public.demo_catalog import seed_demo_catalog


class Command(BaseCommand):
    help = (
        "Apply the migrations, add the demo data, then serve the example project on a "
        "development server with a task worker beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=options["verbosity"])
        if seed_demo_catalog():
            self.stdout.write("Added a demo catalog of credit packs and plans.")
        # Async services and Stripe's webhooks are processed by a worker, as in production.
        worker = subprocess.Popen(  # noqa: S603 (our own manage.py, no shell)
            [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "db_worker",
                "--interval",
                "0.5",
                "--no-startup-delay",
                "--no-reload",
            ]
        )
        try:
            # The reloader would re-run this command, and migrate, in a child process.
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=10)

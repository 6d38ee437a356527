"""``manage.py demo``: one command from a fresh clone to a running site with data in it."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from public import demo_data
from public.demo_catalog import seed_demo_catalog
from quickscale.credits import ledger

#: What to look at first, by path.
TRY = [
    ("/", "the landing page"),
    ("/users/", "the customer's account: balance, grants, usage chart, activity"),
    ("/services/", "the playground: run a paid service"),
    ("/pricing/", "buy credits through the payment sandbox (no money moves)"),
    ("/users/api-keys/", "API keys, and the API docs they link to"),
    ("/dashboard/", "the staff dashboard: users, credits, payments and refunds, analytics"),
    ("/dashboard/audit/", "the audit log of every staff action and payment"),
]


class Command(BaseCommand):
    help = (
        "Apply the migrations, add the demo data (once), then serve the example project on a "
        "development server with a task worker and the minutely sweep beside it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument(
            "--no-serve",
            action="store_false",
            dest="serve",
            help="Only migrate and add the demo data.",
        )

    def handle(self, *args: Any, host: str, port: int, serve: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        started = time.monotonic()
        where = seed_demo_catalog()
        if where:
            self.stdout.write(f"Added a demo catalog of credit packs and plans ({where}).")
        seeded = demo_data.seed()
        ledger.sweep()  # grants whose month ended in the demo's past expire now
        self._welcome(seeded, f"http://{host}:{port}", time.monotonic() - started)
        if serve:
            self._serve(host, port)

    def _welcome(self, seeded: demo_data.Seeded | None, base: str, seconds: float) -> None:
        write = self.stdout.write
        if seeded is None:
            write("The demo data exists already; nothing was changed.")
        else:
            write(f"Added the demo data: 30 days of history ({seconds:.0f} s).")
        write("")
        write(f"  Staff:     {demo_data.STAFF_EMAIL}  password {demo_data.PASSWORD}")
        write(f"  Customer:  {demo_data.CUSTOMER_EMAIL}  password {demo_data.PASSWORD}")
        if seeded is not None:
            write(f"  The customer's API key (shown this once): {seeded.api_key}")
            write(
                f'    curl -H "Authorization: Bearer {seeded.api_key}" '
                f"{base}/api/v1/credits/balance"
            )
        write("")
        write("What to try:")
        for path, what in TRY:
            write(f"  {base}{path:<20} {what}")
        write("")

    def _serve(self, host: str, port: int) -> None:
        # The processes of a deployment: a worker for async services and Stripe's webhooks,
        # and the sweep every minute (interrupted runs, expired credits, the audit seal).
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        helpers = [
            subprocess.Popen(  # noqa: S603 (our own manage.py, no shell)
                [*manage, "db_worker", "--interval", "0.5", "--no-startup-delay", "--no-reload"]
            ),
            subprocess.Popen(  # noqa: S603
                [*manage, "quickscale", "sweep", "--every", "60", "-v", "0"]
            ),
        ]
        try:
            # The reloader would re-run this command, and migrate, in a child process.
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            for helper in helpers:
                helper.terminate()
            for helper in helpers:
                helper.wait(timeout=10)

"""Serve the outage project over HTTP, for a test that stops its database under it.

``python -m tests.api.outage.serve PORT`` migrates the database of ``DATABASE_URL``, makes a
user with 20 credits and an API key, prints ``ready <key>`` and serves requests on
``127.0.0.1:PORT`` one at a time (so over one persistent connection) until it is stopped.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.api.outage.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from quickscale.apikeys.keys import create_key  # noqa: E402
from quickscale.apikeys.scopes import SCOPES  # noqa: E402
from quickscale.credits import ledger  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """The test reads what the project logs, not one line per request."""


def main(port: int) -> None:
    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("outage", "outage@example.com")
    ledger.grant(user, 20, source="purchase")
    _, token = create_key(user, "outage", scopes=sorted(SCOPES))
    server = make_server("127.0.0.1", port, get_wsgi_application(), handler_class=QuietHandler)
    print("ready", token, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))

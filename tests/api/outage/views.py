"""Pages that read a database (the project's own, one that cannot be reached, or with queries
that are simply wrong), and a middleware that reads one that cannot be reached."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.utils import ConnectionHandler
from django.http import HttpRequest, HttpResponse


def users(request: HttpRequest) -> HttpResponse:
    """A page that reads the project's database."""
    return HttpResponse(f"{get_user_model().objects.count()} users")


def unreachable(request: HttpRequest) -> HttpResponse:
    """A page whose PostgreSQL server is not there."""
    read_unreachable()
    return HttpResponse("unreachable")


def read_unreachable_first(get_response: Callable[[HttpRequest], Any]) -> Any:
    """A middleware that reads a database that is not there before any view runs, as the API
    key middleware reads the key, when the request has the header ``X-Read-First``."""

    def middleware(request: HttpRequest) -> Any:
        if "X-Read-First" in request.headers:
            read_unreachable()
        return get_response(request)

    return middleware


def read_unreachable() -> None:
    """Query a PostgreSQL server on a port nothing listens on."""
    databases = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "nowhere",
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": str(closed_port()),
            }
        }
    )
    try:
        with databases["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        databases.close_all()


def missing_table(request: HttpRequest) -> HttpResponse:
    """A query on a table that does not exist: a bug, whatever the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM quickscale_no_such_table")
    return HttpResponse("missing")


def duplicate(request: HttpRequest) -> HttpResponse:
    """Two users with one username: an ``IntegrityError``."""
    get_user_model().objects.create_user("twin")
    get_user_model().objects.create_user("twin")
    return HttpResponse("duplicate")


def closed_port() -> int:
    """A local TCP port that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

"""What every benchmark needs: a throw-away PostgreSQL database, Django set up against it,
timing helpers and a plain-text results table.

A benchmark never touches an existing database: :func:`bench_database` creates
``qs_bench_<pid>`` on the server named by ``DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432``; a database name in the URL is ignored), and drops it
afterwards. Worker processes call :func:`setup_django` with the URL it yields.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"

#: The apps a benchmark project installs: the auth models and the whole suite's core.
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "quickscale.core",
    "quickscale.credits",
]


class BenchmarkError(Exception):
    """The benchmark cannot run (no PostgreSQL server, a failed worker, ...)."""


def server_url() -> str:
    """The PostgreSQL server to benchmark against, from ``DATABASE_URL`` or the default."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL
    if urlsplit(url).scheme not in ("postgres", "postgresql"):
        raise BenchmarkError(
            f"the benchmarks need PostgreSQL; DATABASE_URL is {url!r} "
            "(set it to postgres://user@host:port or unset it for the local default)"
        )
    return url


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_settings(url: str) -> dict[str, Any]:
    """A ``DATABASES["default"]`` entry for a ``postgres://`` URL."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": dict(parse_qsl(parts.query)),
        "CONN_MAX_AGE": None,
    }


def setup_django(url: str, **overrides: Any) -> None:
    """Configure and set up Django for database ``url`` (once per process)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            **{
                "DEBUG": False,  # no query log growing during millions of queries
                "SECRET_KEY": "quickscale-benchmarks-not-secret",
                "USE_TZ": True,
                "TIME_ZONE": "UTC",
                "INSTALLED_APPS": INSTALLED_APPS,
                "DATABASES": {"default": database_settings(url)},
                "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
                "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
                **overrides,
            }
        )
    django.setup()


def migrate() -> None:
    """Create the tables of the installed apps, quietly."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def bench_database(prefix: str = "qs_bench") -> Iterator[str]:
    """Create an empty database ``<prefix>_<pid>``, yield its URL and drop it afterwards."""
    import psycopg

    server = server_url()
    name = f"{prefix}_{os.getpid()}"
    admin_url = with_database(server, "postgres")
    try:
        admin = psycopg.connect(admin_url, autocommit=True)
    except psycopg.OperationalError as error:
        raise BenchmarkError(f"cannot connect to PostgreSQL at {admin_url}: {error}") from None
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server, name)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- timing --------------------------------------------------------------------------------


def time_call(function: Callable[[], object]) -> float:
    """Seconds one call of ``function`` takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def time_interleaved(
    functions: Sequence[Callable[[], object]], repeat: int, *, warmup: int = 0
) -> list[list[float]]:
    """Call each function ``repeat`` times, taking turns so noise hits them all alike.

    Returns the per-call seconds of each function, in the order given. The order of the turn is
    reversed every other time so no function always runs right after another.
    """
    for _ in range(warmup):
        for function in functions:
            function()
    timings: list[list[float]] = [[] for _ in functions]
    indexed = list(enumerate(functions))
    for number in range(repeat):
        for index, function in indexed if number % 2 == 0 else reversed(indexed):
            timings[index].append(time_call(function))
    return timings


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` (0 to 1) percentile of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# -- output --------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (also valid Markdown), numbers right-aligned."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [
        max(len(header), *(len(row[column]) for row in cells))
        for column, header in enumerate(headers)
    ]
    numeric = [
        all(_looks_numeric(row[column]) for row in cells) if cells else False
        for column in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        padded = (
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        )
        return "| " + " | ".join(padded) + " |"

    rule = "".join(
        "|" + "-" * (width + 1) + (":" if right else "-")
        for width, right in zip(widths, numeric, strict=True)
    )
    rule += "|"
    return "\n".join([line(headers), rule, *(line(row) for row in cells)])


def _looks_numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).replace("x", "").lstrip("-").isdigit()


def verdict(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    return "met" if met else "NOT met"


def base_arguments(name: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark accepts; a benchmark adds its own."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks {name}", description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a fast smoke run: tiny sizes, numbers meaningless"
    )
    return parser

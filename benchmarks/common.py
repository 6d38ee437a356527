"""What every benchmark needs: a throw-away PostgreSQL database, Django set up against it,
timing helpers, ``pgbench`` for a reference the database sets by itself, CPU accounting and a
plain-text results table.

A benchmark never touches an existing database: :func:`bench_database` creates
``qs_bench_<pid>`` on the server named by ``DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432``; a database name in the URL is ignored), and drops it
afterwards. Worker processes call :func:`setup_django` with the URL it yields.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


# -- pgbench ---------------------------------------------------------------------------------

#: The PostgreSQL client programs' usual places, when ``pgbench`` is not on the ``PATH``.
PGBENCH_PLACES = (
    "/usr/bin/pgbench",
    "/usr/lib/postgresql/*/bin/pgbench",
    "/usr/pgsql-*/bin/pgbench",
)


def find_pgbench(given: str | None = None) -> str:
    """The ``pgbench`` to run: ``given``, else ``$PGBENCH``, else the one on the ``PATH`` or in a
    usual place (of the highest PostgreSQL version there)."""
    chosen = given or os.environ.get("PGBENCH")
    if chosen:
        if shutil.which(chosen) is None:
            raise BenchmarkError(f"pgbench {chosen!r} is not an executable")
        return chosen
    found = shutil.which("pgbench")
    if found:
        return found
    for pattern in PGBENCH_PLACES:
        places = sorted(
            Path("/").glob(pattern.lstrip("/")),
            key=lambda path: [int(part) for part in re.findall(r"\d+", str(path))],
        )
        if places:
            return str(places[-1])
    raise BenchmarkError(
        "pgbench is needed for the reference (PostgreSQL's client programs: postgresql-client "
        "on Debian); put it on the PATH or name it with --pgbench or PGBENCH"
    )


def script_statement(path: Path) -> str:
    """The SQL of a one-statement ``pgbench`` script, without its comments, its ``\\``
    meta-commands and its final ``;``."""
    lines = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith(("--", "\\"))
    ]
    statement = " ".join(" ".join(lines).split()).rstrip().removesuffix(";")
    if ";" in statement:
        raise BenchmarkError(f"{path} must hold one SQL statement")
    return statement


def with_placeholders(statement: str) -> tuple[str, list[str]]:
    """``statement`` with each ``pgbench`` variable (``:name``) turned into a ``%s``
    placeholder, and the variables' names in the order of the placeholders."""
    names: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return "%s"

    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", placeholder, statement), names


@dataclass(frozen=True)
class PgbenchRun:
    #: Transactions a second, without the connections' set-up.
    tps: float
    transactions: int
    #: CPU seconds pgbench itself used (the client's side of the work).
    cpu: float
    output: str


def run_pgbench(
    binary: str,
    url: str,
    script: Path,
    *,
    clients: int,
    seconds: float,
    variables: Mapping[str, object],
    transactions: int | None = None,
) -> PgbenchRun:
    """Run ``script`` with ``pgbench -M prepared`` (every statement prepared once per
    connection) on database ``url``: ``clients`` connections, sending transactions back to
    back for ``seconds`` (rounded to whole seconds, at least 1), or ``transactions`` each, with
    ``-D`` ``variables``."""
    import resource  # Unix only, like pgbench's use here

    parts = urlsplit(url)
    command = [
        binary,
        "--no-vacuum",
        "--protocol=prepared",
        f"--file={script}",
        f"--client={clients}",
        f"--jobs={min(clients, os.cpu_count() or 1)}",
        f"--transactions={transactions}" if transactions else f"--time={max(1, round(seconds))}",
        *(f"--define={name}={value}" for name, value in variables.items()),
        "--host",
        parts.hostname or "",
        "--port",
        str(parts.port or 5432),
        "--username",
        unquote(parts.username or ""),
        unquote(parts.path.lstrip("/")),
    ]
    environment = dict(os.environ)
    if parts.password:
        environment["PGPASSWORD"] = unquote(parts.password)
    options = dict(parse_qsl(parts.query))
    if "sslmode" in options:
        environment["PGSSLMODE"] = options["sslmode"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=environment,
        timeout=seconds + 120,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    output = finished.stdout + finished.stderr
    tps = re.search(r"^tps = ([0-9.]+)", output, re.MULTILINE)
    done = re.search(r"^number of transactions actually processed: (\d+)", output, re.MULTILINE)
    failed = re.search(r"^number of failed transactions: (\d+)", output, re.MULTILINE)
    if finished.returncode != 0 or not tps or not done or (failed and int(failed.group(1))):
        raise BenchmarkError(f"pgbench failed ({' '.join(command)}):\n{output[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return PgbenchRun(float(tps.group(1)), int(done.group(1)), cpu, output)


# -- CPU and code ----------------------------------------------------------------------------


def process_cpu(pid: int) -> float | None:
    """CPU seconds process ``pid`` of this machine has used (every thread, user and system),
    from ``/proc``; ``None`` where that cannot be read (not Linux, another machine's
    PostgreSQL)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def code_digest(*modules: str) -> str:
    """A short SHA-256 of the source of ``modules`` (a package: every ``.py`` file in it), to
    tell which code a result was measured with."""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None:
            digest.update(f"{name}: missing".encode())
            continue
        if spec.submodule_search_locations:
            files = sorted(
                path
                for location in spec.submodule_search_locations
                for path in Path(location).rglob("*.py")
            )
        else:
            files = [Path(spec.origin)] if spec.origin else []
        for path in files:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


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
        "--quick",
        action="store_true",
        help="a fast run: short runs and small sizes, figures indicative at best",
    )
    return parser

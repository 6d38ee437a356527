"""The developer loop. ``nox -s tests`` and friends; tox holds the full version matrix.

Every session runs through ``uv run`` so it uses the locked environment and never downloads an
interpreter.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests", "lint"]

POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/quickscale"


@nox.session
def tests(session: nox.Session) -> None:
    """The suite on SQLite, then on PostgreSQL: ``DATABASE_URL`` when set, else a throw-away
    server the run starts (see ``tests/servers.py``)."""
    args = session.posargs or ["-q"]
    session.run("uv", "run", "pytest", *args, env={"DATABASE_URL": "sqlite:///:memory:"})
    session.run("uv", "run", "pytest", *args)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy."""
    session.run("uv", "run", "--group", "lint", "ruff", "check", ".")
    session.run("uv", "run", "--group", "lint", "ruff", "format", "--check", ".")
    session.run("uv", "run", "--group", "lint", "mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation with warnings as errors."""
    session.run(
        "uv",
        "run",
        "--group",
        "docs",
        "sphinx-build",
        "-W",
        "--keep-going",
        "-n",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Run the example SaaS on SQLite at http://127.0.0.1:8000/."""
    session.run("uv", "run", "python", "example_project/manage.py", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The benchmarks in ``benchmarks/`` (PostgreSQL); results belong in docs/performance.md.

    gunicorn and redis-py serve the API benchmark; they are not dependencies of the project.
    """
    session.run(
        "uv",
        "run",
        "--with",
        "gunicorn>=22,<24",
        "--with",
        "redis>=5,<7",
        "python",
        "-m",
        "benchmarks",
        *session.posargs,
        env={"DATABASE_URL": os.environ.get("DATABASE_URL") or POSTGRES_URL},
    )


@nox.session
def e2e(session: nox.Session) -> None:
    """Only the real-browser tests (needs Debian's chromium at /usr/bin/chromium)."""
    session.run("uv", "run", "pytest", "-m", "e2e", *(session.posargs or ["-q"]))


@nox.session
def faults(session: nox.Session) -> None:
    """The fault harness (docs/reliability.md): the example project broken on purpose, under load.

    It runs on a throw-away PostgreSQL, Redis and PgBouncer of its own.
    ``uvx nox -s faults -- --short`` takes about five minutes.

    Installs Debian's ``pgbouncer`` package when it is missing (as root, with apt-get); gunicorn
    comes from ``uv run --with``, as in the bench session.
    """
    if not shutil.which("pgbouncer") and not os.path.exists("/usr/sbin/pgbouncer"):
        apt = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=apt)
        session.run("apt-get", "install", "-y", "-qq", "pgbouncer", external=True, env=apt)
    session.run(
        "uv",
        "run",
        "--with",
        "gunicorn>=22,<24",
        "python",
        "-m",
        "faults",
        *session.posargs,
        env={"UV_PYTHON_DOWNLOADS": "never"},
    )

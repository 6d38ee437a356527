"""The developer loop. ``nox -s tests`` and friends; tox holds the full version matrix.

Every session runs through ``uv run`` so it uses the locked environment and never downloads an
interpreter.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
from pathlib import Path

import nox
from packaging.version import Version

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


ROOT = Path(__file__).resolve().parent
#: What every wheel must carry, besides the modules: files under src/quickscale whose path
#: matches one of these.
PACKAGE_DATA = (
    re.compile(r"/py\.typed$"),
    re.compile(r"/templates/"),
    re.compile(r"/static/"),
    re.compile(r"/migrations/.+\.py$"),
    re.compile(r"/locale/.+\.mo$"),
)


def package_version() -> str:
    """``quickscale.__version__``, read from the source (the one place the version is kept)."""
    text = (ROOT / "src" / "quickscale" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, flags=re.MULTILINE)
    if match is None:
        raise RuntimeError("src/quickscale/__init__.py has no __version__.")
    return match[1]


def changelog_section(version: str) -> str:
    """The heading the changelog must have for ``version``: ``## [<version>] - <date>``, or
    ``## [Unreleased]`` for a development version."""
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    if Version(version).is_devrelease:
        pattern = r"^## \[Unreleased\]$"
    else:
        pattern = rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    match = re.search(pattern, changelog, flags=re.MULTILINE)
    if match is None:
        raise RuntimeError(f"CHANGELOG.md has no section for {version} (a heading {pattern}).")
    return match[0]


def wheel_problems(wheel: Path) -> list[str]:
    """What the wheel lacks of the package data under ``src/``, and anything it should not hold."""
    names = set(zipfile.ZipFile(wheel).namelist())
    src = ROOT / "src"
    wanted = {
        path.relative_to(src).as_posix()
        for path in (src / "quickscale").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and any(rule.search(path.relative_to(src).as_posix()) for rule in PACKAGE_DATA)
    }
    problems = [f"missing {name}" for name in sorted(wanted - names)]
    for kind in ("py.typed", "/templates/", "/static/", "/migrations/", ".mo"):
        if not any(kind in name for name in names):
            problems.append(f"no {kind} file at all")
    problems += [
        f"ships {name}"
        for name in sorted(names)
        if name.startswith(("tests/", "example_project/", "docs/")) or "/tests/" in name
    ]
    return problems


@nox.session
def release(session: nox.Session) -> None:
    """Everything a release needs, in order: a release version (``-- --allow-dev`` accepts a
    development version) with its section in CHANGELOG.md, the sdist and wheel built into
    ``dist/`` (``uv build``), ``twine check --strict``, the wheel's contents, then the full tox
    matrix. Uploading is left to the person releasing."""
    allow_dev = "--allow-dev" in session.posargs
    unknown = [arg for arg in session.posargs if arg != "--allow-dev"]
    if unknown:
        session.error(f"Unknown arguments {unknown}; the only one is --allow-dev")
    version = package_version()
    if Version(version).is_devrelease and not allow_dev:
        session.error(f"{version} is a development version; pass -- --allow-dev to go on")
    try:
        heading = changelog_section(version)
    except RuntimeError as error:
        session.error(str(error))
    session.log(f"Version {version}; CHANGELOG.md has {heading!r}.")

    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("uv", "build", "--out-dir", str(dist), str(ROOT), external=True)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        session.error(f"Expected one wheel and one sdist in dist/, found {wheels + sdists}.")
    for built in (*wheels, *sdists):
        if f"-{version}" not in built.name:
            session.error(f"{built.name} is not version {version}.")
    session.run("uvx", "twine", "check", "--strict", *map(str, wheels + sdists), external=True)
    problems = wheel_problems(wheels[0])
    if problems:
        session.error(f"{wheels[0].name}: " + "; ".join(problems))
    session.log(f"{wheels[0].name} carries every template, static file, migration and catalog.")

    session.run("uvx", "--with", "tox-uv", "tox", external=True)

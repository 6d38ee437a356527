"""Run the example project the way a developer does: ``manage.py`` in a subprocess.

The suite's own process is configured with ``tests.settings``; the example project has its own
settings module and user model, so it can only be exercised in separate processes. Each run gets
a throwaway SQLite database and an environment free of the variables a deployment would set.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.servers import free_port

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "example_project"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Only what a process needs to run at all; nothing that would configure the project.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")


def example_env(database_dir: Path, **variables: str) -> dict[str, str]:
    """The environment of a fresh clone, plus ``variables``, on a database in ``database_dir``."""
    env = {name: os.environ[name] for name in INHERITED_VARIABLES if name in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings",
        DATABASE_URL=f"sqlite:///{database_dir / 'db.sqlite3'}",
        PYTHONUNBUFFERED="1",
    )
    env.update(variables)
    return env


def run_manage(
    *args: str, env: dict[str, str], cwd: Path = EXAMPLE_DIR
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` to completion and capture what it printed."""
    return subprocess.run(
        [sys.executable, str(EXAMPLE_DIR / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def fetch(
    tmp_path: Path, *requests: str, csrf_checks: bool = False, **variables: str
) -> list[dict[str, Any]]:
    """The project's answers to ``requests`` in a fresh database with the demo catalog, through
    Django's test client in one ``manage.py shell``: ``"GET /path"`` and ``"POST /path"`` as a
    signed-in customer, ``"ANON GET /path"`` as a visitor, ``"500"`` the server error page,
    ``"503"`` the page of a database that cannot be reached.
    ``variables`` configure the project (``DEBUG="false"``...); each answer has ``status`` and
    ``body``."""
    env = example_env(tmp_path, **variables)
    migrated = run_manage("migrate", "-v", "0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    script = (
        "import json; from django.test import Client, RequestFactory; "
        "from common.views import server_error; "
        "from quickscale.core.outages import unavailable_response; from public.demo_catalog import "
        "seed_demo_catalog; from users.models import CustomUser; seed_demo_catalog(); "
        f"c = Client(SERVER_NAME='localhost', enforce_csrf_checks={csrf_checks}); "
        "anon = Client(SERVER_NAME='localhost'); "
        "factory = RequestFactory(SERVER_NAME='localhost'); "
        "c.force_login(CustomUser.objects.create_user('b@example.com', 'x')); "
        "out = []\n"
        f"for line in {list(requests)!r}:\n"
        "    *who, method, path = line.split(' ') if line[0] != '5' else [line, '']\n"
        "    client = anon if who else c\n"
        "    if method == '500': r = server_error(factory.get('/'))\n"
        "    elif method == '503': r = unavailable_response(factory.get('/about/'), 10)\n"
        "    elif method == 'POST': r = client.post(path, {'price': 'demo_price_pro_plan'})\n"
        "    else: r = client.get(path)\n"
        "    out.append({'status': r.status_code, 'body': r.content.decode()})\n"
        "print(json.dumps(out))"
    )
    result = run_manage("shell", "-v", "0", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return answers


def wait_for_url(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    """Poll ``url`` until it answers; fail early with the server log if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"The demo server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.25)
    pytest.fail(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started; it runs in its own process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


#: The password of every user the tests create.
PASSWORD = "a-long-test-password-1"
_users = itertools.count(1)

#: What the long-lived ``manage.py shell`` of :class:`Commands` runs: a management command per
#: line of JSON on its input, answered by a line of JSON with what the command printed.
COMMAND_LOOP = """
import contextlib, io, json, sys, traceback
from django.core.management import call_command
from django.db import close_old_connections
for line in sys.stdin:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            call_command(*json.loads(line), stdout=out, stderr=err)
        ok = True
    except Exception:
        err.write(traceback.format_exc())
        ok = False
    close_old_connections()
    sys.__stdout__.write(json.dumps([ok, out.getvalue(), err.getvalue()]) + "\\n")
    sys.__stdout__.flush()
"""


class Commands:
    """``manage.py`` commands run in one long-lived process beside the server, against its
    database: Django starts once, not once per command (a second each)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", COMMAND_LOOP],
            cwd=EXAMPLE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> tuple[bool, str, str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(args) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, f"the command process exited with {self.process.poll()}"
        ok, out, err = json.loads(answer)
        return ok, out, err

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


@dataclass(frozen=True)
class DemoServer:
    """A running ``manage.py demo``: its address, its environment and the file it prints to,
    with the helpers a test needs to set up what it looks at (each test makes its own users)."""

    url: str
    env: dict[str, str]
    log: Path
    commands: Commands

    def address(self, path: str) -> str:
        """The absolute URL of ``path`` (``"/users/"``)."""
        return self.url.rstrip("/") + path

    def manage(self, *args: str) -> str:
        """Run a ``manage.py`` command against the server's database and return what it
        printed; fail the test if it fails."""
        ok, out, err = self.commands.run(*args)
        assert ok, f"manage.py {' '.join(args)}:\n{err}"
        return out

    def python_until(self, code: str, expected: str, timeout: float = 30) -> str:
        """What ``code`` prints (in ``manage.py shell``), once it prints ``expected``: for what
        the task worker does a moment after a request (a webhook's credits). Fails with the
        last output when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        while True:
            printed = self.manage("shell", "-v", "0", "-c", code).strip()
            if printed == expected or time.monotonic() > deadline:
                return printed
            time.sleep(0.25)

    def create_user(self, *, staff: bool = False, credits: str | None = None) -> str:
        """A new, verified user (password :data:`PASSWORD`), optionally staff and with
        ``credits`` granted as a promotion; returns their email address."""
        email = f"{'staff' if staff else 'customer'}{next(_users)}-{os.getpid()}@example.com"
        self.manage("create_user", email, "--password", PASSWORD, *(["--staff"] if staff else []))
        if credits is not None:
            self.manage("credits", "grant", email, credits, "--source", "promotion")
        return email

    @contextmanager
    def reports_held(self) -> Iterator[None]:
        """Inside the block the demo's "Document report" runs wait (queued or running, their
        credits held); they finish after it."""
        hold = Path(self.env["DEMO_REPORT_HOLD_FILE"])
        hold.touch()
        try:
            yield
        finally:
            hold.unlink()

    def log_in(self, page: Page, email: str) -> None:
        """Sign ``page``'s browser context in as ``email`` with a session made on the server's
        side (the log-in form itself is tested by :meth:`log_in_with_form`)."""
        key = self.manage(
            "shell",
            "-v",
            "0",
            "-c",
            "from django.test import Client; from django.contrib.auth import get_user_model; "
            "client = Client(SERVER_NAME='localhost'); "
            f"client.force_login(get_user_model().objects.get(email={email!r})); "
            "print(client.cookies['sessionid'].value)",
        ).strip()
        page.context.add_cookies([{"name": "sessionid", "value": key, "url": self.url}])

    def log_in_with_form(self, page: Page, email: str, password: str = PASSWORD) -> None:
        """Sign ``page``'s browser context in as ``email`` through the log-in page."""
        page.goto(self.address("/accounts/login/"))
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)


def example_database_url(workdir: Path, name: str) -> Iterator[str]:
    """A fresh database for a run of the example project: on PostgreSQL when the suite runs
    there (dropped afterwards), else an SQLite file in ``workdir``."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{workdir / 'db.sqlite3'}"
        return
    import psycopg

    database = f"qs_{name}_{os.getpid()}"
    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{database}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``manage.py demo`` on a free port, started once for the session (on the suite's kind
    of database); tests make their own users, so they do not depend on each other."""
    workdir = tmp_path_factory.mktemp("demo")
    database = example_database_url(workdir, "demo")
    env = example_env(
        workdir,
        DATABASE_URL=next(database),
        DEMO_REPORT_HOLD_FILE=str(workdir / "hold-reports"),
    )
    try:
        # Migrating and seeding a month of demo data takes a while on a busy machine.
        with running_demo(workdir, env) as (url, log):
            commands = Commands(env)
            try:
                yield DemoServer(url + "/", env, log, commands)
            finally:
                commands.close()
    finally:
        database.close()


@contextmanager
def running_demo(
    workdir: Path, env: dict[str, str], ready: str = "/"
) -> Iterator[tuple[str, Path]]:
    """``manage.py demo`` (web server and task worker) with ``env`` on a free port, until the
    block ends: its address (no trailing slash) and its log, once ``ready`` answers."""
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(port)],
            cwd=EXAMPLE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_url(url + ready, process, log, timeout=240)
        yield url, log
    finally:
        stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the system package; Playwright never downloads a browser here."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test, so no test inherits another's session cookie."""
    context = browser.new_context()
    # A page that does not show what a test waits for within 10 s is not going to.
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()

"""Run the example project the way a developer does: ``manage.py`` in a subprocess.

The suite's own process is configured with ``tests.settings``; the example project has its own
settings module and user model, so it can only be exercised in separate processes. Each run gets
a throwaway SQLite database and an environment free of the variables a deployment would set.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

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


def free_port() -> int:
    """A TCP port nobody listens on, so parallel runs and a developer's own server never clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@dataclass(frozen=True)
class DemoServer:
    """A running ``manage.py demo``: its address, its environment and the file it prints to."""

    url: str
    env: dict[str, str]
    log: Path


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """``manage.py demo`` on a free port, started once for the tests that only read from it."""
    workdir = tmp_path_factory.mktemp("demo")
    env = example_env(workdir)
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
        url = f"http://127.0.0.1:{port}/"
        wait_for_url(url, process, log)
        yield DemoServer(url, env, log)
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
    yield context.new_page()
    context.close()

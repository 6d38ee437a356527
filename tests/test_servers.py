"""The throw-away servers of the suite stop when the run that started them is killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30

START_AND_WAIT = """
import os, sys
from tests.servers import start_for_the_suite
start_for_the_suite()
print(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], flush=True)
sys.stdin.read()
"""


def accepting(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def test_a_killed_run_leaves_no_server_behind() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    with subprocess.Popen(
        [sys.executable, "-c", START_AND_WAIT],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as run:
        assert run.stdout is not None
        urls = run.stdout.readline().split()
        assert len(urls) == 2, urls
        assert all(accepting(url) for url in urls)

        run.send_signal(signal.SIGKILL)  # no atexit, no cleanup of its own
        run.wait(WAIT)

    deadline = time.monotonic() + WAIT
    while any(accepting(url) for url in urls) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(accepting(url) for url in urls)

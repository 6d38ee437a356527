"""The throw-away stack the harness runs and breaks, all on 127.0.0.1, in one temporary folder.

- PostgreSQL 15 from Debian's binaries (``initdb``, ``pg_ctl``) on a free port;
- Redis (``redis-server --save "" --appendonly no``) on a free port;
- PgBouncer in transaction mode (Debian's ``pgbouncer`` package) for the pooler phase;
- the example project in development mode but otherwise as deployed: gunicorn with 4 sync
  workers (``core.wsgi``), 2 task workers (``manage.py db_worker``) and the sweep
  (``manage.py quickscale sweep --every 5``);
- a probe: a ``manage.py shell`` running :mod:`faults.facts`, connected to PostgreSQL directly.

Nothing already running on the machine is used or touched. PostgreSQL and PgBouncer refuse to
run as root: when the harness is root they run as the ``postgres`` user that Debian's packages
create. The task workers and the sweep are restarted when they exit, as a process supervisor
(systemd, Kubernetes) does in a deployment; gunicorn's own master restarts its web workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example_project"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "quickscale"
#: Only what a process needs to run at all; the project is configured by the harness alone.
INHERITED = ("PATH", "HOME", "LANG", "TMPDIR", "UV_PYTHON_DOWNLOADS")
WEB_WORKERS = 4
TASK_WORKERS = 2


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def unprivileged() -> pwd.struct_passwd | None:
    """The user PostgreSQL and PgBouncer run as: ``postgres`` when the harness is root."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else None


def give_to(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def run(argv: list[str], *, user: pwd.struct_passwd | None = None, **kwargs: Any) -> str:
    """Run a command to completion; its output, or an error with all it printed."""
    owner = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    result = subprocess.run(  # noqa: S603 (the harness's own commands)
        argv, capture_output=True, text=True, check=False, **owner, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result.stdout


@dataclass
class Restart:
    name: str
    at: float
    returncode: int | None


@dataclass
class Process:
    """A long-running child in a session of its own, writing to ``log``."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path = REPO
    user: pwd.struct_passwd | None = None
    #: Started again by the supervisor when it exits while wanted.
    supervised: bool = False
    popen: subprocess.Popen[bytes] | None = None
    wanted: bool = False
    _log_file: BinaryIO | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._log_file is None:
            self._log_file = self.log.open("ab")
        owner = {"user": self.user.pw_uid, "group": self.user.pw_gid} if self.user else {}
        self.popen = subprocess.Popen(  # noqa: S603 (the harness's own commands)
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **owner,
        )
        self.wanted = True

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        self.wanted = False
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


class Supervisor(threading.Thread):
    """Starts supervised processes again when they exit unexpectedly, and remembers when."""

    def __init__(self) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.processes: list[Process] = []
        self.restarts: list[Restart] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def watch(self, process: Process) -> None:
        with self.lock:
            self.processes.append(process)

    def forget(self, process: Process) -> None:
        with self.lock:
            if process in self.processes:
                self.processes.remove(process)

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            with self.lock:
                for process in self.processes:
                    if process.wanted and process.popen is not None and not process.alive:
                        self.restarts.append(
                            Restart(process.name, time.time(), process.popen.returncode)
                        )
                        process.start()


class Postgres:
    """A PostgreSQL cluster of its own, in ``root/postgres``."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "postgres"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.user = unprivileged()

    def _options(self) -> list[str]:
        return ["-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"]

    def create(self) -> None:
        self.dir.mkdir()
        give_to(self.dir, self.user)
        run(
            [
                str(PG_BIN / "initdb"),
                *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
                *("--encoding=UTF8", "--no-locale", "--no-sync"),
            ],
            user=self.user,
        )
        self.start()
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')

    def _ctl(self, *args: str) -> None:
        run(
            [
                str(PG_BIN / "pg_ctl"),
                *("-D", str(self.data), "-l", str(self.log), "-w", "-t", "60"),
                *args,
            ],
            user=self.user,
        )

    def start(self) -> None:
        self._ctl(*self._options(), "start")

    def restart(self, mode: str) -> None:
        self._ctl("-m", mode, *self._options(), "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError):
                self._ctl("-m", "immediate", "stop")

    def url(self, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"


class Redis:
    """A Redis of its own, without persistence; stopping it loses everything, on purpose."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.dir = root / "redis"
        self.dir.mkdir()
        self.process = Process(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.dir)),
            ],
            log=root / "redis.log",
        )

    def start(self) -> None:
        self.process.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.stop()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class PgBouncer:
    """PgBouncer in transaction mode in front of :class:`Postgres`, with fewer server
    connections than the site has clients, so transactions really share them."""

    POOL_SIZE = 5

    def __init__(self, root: Path, postgres: Postgres) -> None:
        self.port = free_port()
        self.dir = root / "pgbouncer"
        self.postgres = postgres
        self.user = unprivileged()
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.process = Process(
            "pgbouncer",
            [binary, str(self.dir / "pgbouncer.ini")],
            log=root / "pgbouncer.log",
            user=self.user,
        )

    @staticmethod
    def installed() -> bool:
        return bool(shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists())

    def start(self) -> None:
        self.dir.mkdir(exist_ok=True)
        give_to(self.dir, self.user)
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"{DATABASE} = host=127.0.0.1 port={self.postgres.port} dbname={DATABASE}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.dir / 'userlist.txt'}\n"
            "pool_mode = transaction\nmax_client_conn = 200\n"
            f"default_pool_size = {self.POOL_SIZE}\nreserve_pool_size = 0\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        self.process.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        self.process.stop()

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"


@dataclass(frozen=True)
class Config:
    """How the project is configured: the environment of every process of the site."""

    root: Path
    database_url: str
    redis_url: str
    secret_key: str
    services_timeout: int | None
    pooler: str = ""

    @property
    def hold_file(self) -> Path:
        return self.root / "report-hold"

    def env(self, database_url: str | None = None) -> dict[str, str]:
        env = {name: os.environ[name] for name in INHERITED if name in os.environ}
        env.update(
            DJANGO_SETTINGS_MODULE="faults.settings",
            PYTHONPATH=str(REPO),
            PYTHONUNBUFFERED="1",
            QUICKSCALE_ENV="development",
            # The payment sandbox acts only with DEBUG on.
            DEBUG="true",
            SECRET_KEY=self.secret_key,
            API_KEY_PEPPER=self.secret_key[::-1],
            DATABASE_URL=database_url or self.database_url,
            REDIS_URL=self.redis_url,
            LOG_LEVEL="INFO",
            DEMO_REPORT_HOLD_FILE=str(self.hold_file),
            FAULTS_POOLER=self.pooler,
        )
        if self.services_timeout:
            env["FAULTS_SERVICES_TIMEOUT"] = str(self.services_timeout)
        return env


def manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    return run([sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, timeout=timeout)


class Site:
    """The example project's three kinds of process, as ``docs/deployment.md`` lists them."""

    def __init__(
        self, config: Config, supervisor: Supervisor, generation: int = 0, port: int = 0
    ) -> None:
        self.config = config
        self.supervisor = supervisor
        self.port = port or free_port()
        env = config.env()
        root = config.root
        suffix = f"-{generation}" if generation else ""
        self.web = Process(
            "web",
            [
                *(sys.executable, "-m", "gunicorn", "core.wsgi:application"),
                *("--chdir", str(EXAMPLE), "--bind", f"127.0.0.1:{self.port}"),
                *("--workers", str(WEB_WORKERS), "--worker-class", "sync"),
                *("--timeout", "30", "--graceful-timeout", "5", "--error-logfile", "-"),
                *("--access-logfile", "-", "--access-logformat", '%(t)s "%(r)s" %(s)s %(L)s'),
            ],
            log=root / f"web{suffix}.log",
            env=env,
            cwd=EXAMPLE,
            supervised=True,
        )
        self.workers = [
            Process(
                f"task-worker-{number}",
                [
                    *(sys.executable, "manage.py", "db_worker"),
                    *("--interval", "0.5", "--no-startup-delay", "--no-reload"),
                ],
                log=root / f"task-worker-{number}{suffix}.log",
                env=env,
                cwd=EXAMPLE,
                supervised=True,
            )
            for number in range(1, TASK_WORKERS + 1)
        ]
        self.sweep = Process(
            "sweep",
            [sys.executable, "manage.py", "quickscale", "sweep", "--every", "5"],
            log=root / f"sweep{suffix}.log",
            env=env,
            cwd=EXAMPLE,
            supervised=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def processes(self) -> list[Process]:
        return [self.web, *self.workers, self.sweep]

    def start(self) -> None:
        for process in self.processes:
            process.start()
            self.supervisor.watch(process)
        self.wait_until_serving()

    def wait_until_serving(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200 and len(self.web_workers()) == WEB_WORKERS:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the site did not serve within {timeout} s; see {self.web.log}")

    def stop(self) -> None:
        for process in self.processes:
            self.supervisor.forget(process)
            process.stop()

    def web_workers(self) -> list[int]:
        """The pids of gunicorn's workers: its master's children."""
        master = self.web.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in children.read_text().split()]
        return []

    def replace_worker(self, index: int) -> Process:
        """A new task worker in place of ``workers[index]``, which must be dead."""
        old = self.workers[index]
        self.supervisor.forget(old)
        old.stop()
        new = Process(
            f"{old.name}b",
            old.argv,
            log=old.log.with_name(old.log.stem + "b.log"),
            env=old.env,
            cwd=old.cwd,
            supervised=True,
        )
        new.start()
        self.supervisor.watch(new)
        self.workers[index] = new
        return new


class Probe:
    """A ``manage.py shell`` running :func:`faults.facts.serve`: one question, one answer."""

    MARK = "FAULTS "

    def __init__(self, config: Config) -> None:
        self.log = config.root / "probe.log"
        self._log_file = self.log.open("ab")
        self.popen = subprocess.Popen(  # noqa: S603 (the harness's own command)
            [
                *(sys.executable, "manage.py", "shell", "-v", "0"),
                *("-c", "from faults.facts import serve; serve()"),
            ],
            cwd=EXAMPLE,
            env=config.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        self.answers: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, name="probe-reader", daemon=True).start()
        self.lock = threading.Lock()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            if line.startswith(self.MARK):
                self.answers.put(line.removeprefix(self.MARK))
        self.answers.put("")

    def ask(self, what: str, timeout: float = 120, **args: Any) -> Any:
        assert self.popen.stdin is not None
        with self.lock:
            self.popen.stdin.write(json.dumps({"do": what, "args": args}) + "\n")
            self.popen.stdin.flush()
            try:
                line = self.answers.get(timeout=timeout)
            except queue.Empty:
                raise RuntimeError(f"the probe did not answer {what!r} in {timeout} s") from None
        if not line:
            raise RuntimeError(f"the probe exited ({self.popen.poll()}); see {self.log}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"the probe failed at {what!r}:\n{answer['error']}")
        return answer["result"]

    def close(self) -> None:
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self._log_file.close()

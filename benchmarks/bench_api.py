"""The API through a real WSGI server: paid runs per second on one API key, against a bare view.

Requests per second of ``POST /api/v1/services/bench-noop/runs`` (an authenticated run of an
inline service costing 1 credit that does no work: key lookup and HMAC, rate limit, scope, JSON
body, the run recorded, the debit, the balance, the response) at 1 and at 16 concurrent clients,
all with ONE API key of ONE account, as a ratio to the honest bare view, served by the same
server in the same run: a bare Django view that does the charge's work the best way the
database allows, ``benchmarks/ledger_debit.sql``'s ONE statement (the conditional ``UPDATE`` of
the account and the ``INSERT`` of its ledger entry in a data-modifying ``WITH``, autocommit) as
a prepared statement, on the cursor the API's own hot statements use (``bench_ledger``'s
reference), and returns a small JSON body. For reference, a third figure sends a new
``Idempotency-Key`` with every run, and a fourth is the bare view with the same statement sent
unprepared (Django's usual raw SQL, planned on every request).

The server is gunicorn when it is importable (``gthread``: 2 worker processes, one per core, of
8 threads, so 16 clients are served at once; unlike the ``sync`` workers they keep connections
alive), else Django's threaded development server in one process (the output says which). The
rate-limit counters are in Redis when the ``redis`` package and a server are there, else in
local memory. The clients are threads of this process, each with its own keep-alive
``http.client`` connection, sending requests back to back; after a warm-up, the responses that
complete in the measured window are counted. Any answer other than 2xx fails the run. The
modes take turns over several rounds; the figures are medians. Targets, API run / honest bare
view: >= 0.5 at 1 client, >= 0.8 at 16 (other client counts have none).
On Linux the CPU time each request cost the server and PostgreSQL is shown too.

``--diagnose`` measures no throughput: it serves with a middleware that times each request's
SQL statements, commit and cache calls, lists them, and profiles the API run by step and by
package (see ``benchmarks/api_project/diagnostics.py``).

``uv run --with 'gunicorn>=22,<24' --with 'redis>=5,<7' python -m benchmarks api
[--seconds S] [--rounds N] [--clients 1,16] [--modes api,api-idem,bare-prep,bare] [--diagnose]
[--quick]``
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from benchmarks.common import (
    BenchmarkError,
    base_arguments,
    bench_database,
    code_digest,
    median,
    migrate,
    percentile,
    table,
    verdict,
)

#: API run / honest bare view, at least, by client count; other counts have no target.
TARGETS = {1: 0.5, 16: 0.8}
GRANT = Decimal(100_000_000)
KEY_RATE_LIMIT = 1_000_000  # requests a minute: the most a key may have
SLUG = "bench-noop"
ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "benchmarks.api_project.settings"
SOURCES = (  # the code the digest in the output covers (a package: all of it)
    "quickscale.api.views",
    "quickscale.api.decorators",
    "quickscale.apikeys.middleware",
    "quickscale.apikeys.keys",
    "quickscale.services.execution",
    "quickscale.credits.ledger",
    "quickscale.core.db",
)


@dataclass(frozen=True)
class Mode:
    name: str
    label: str


API = Mode("api", "API run")
API_KEYED = Mode("api-idem", "API run + Idempotency-Key")
#: The honest bare view: the charge as one prepared statement. The API's targets are against it.
BARE_PREPARED = Mode("bare-prep", "bare view, prepared")
#: A diagnostic: the same statement, unprepared.
BARE = Mode("bare", "bare view, unprepared")
MODES = {mode.name: mode for mode in (API, API_KEYED, BARE_PREPARED, BARE)}


@dataclass(frozen=True)
class Options:
    quick: bool
    seconds: float
    warmup: float
    rounds: int
    clients: tuple[int, ...]
    modes: tuple[Mode, ...]
    server: str
    server_workers: int
    threads: int
    cache: str
    diagnose: bool


def parse(argv: Sequence[str]) -> Options:
    parser = base_arguments("api", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 4)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    parser.add_argument("--rounds", type=int, help="rounds of every configuration (default 3)")
    parser.add_argument("--clients", help="comma-separated client counts (default 1,16)")
    parser.add_argument(
        "--modes",
        default="api,api-idem,bare-prep,bare",
        help="comma-separated, of api, api-idem, bare-prep, bare (default all four; api and "
        "bare-prep, the honest bare view, always run)",
    )
    parser.add_argument(
        "--server",
        choices=["auto", "gunicorn", "django"],
        default="auto",
        help="gunicorn if importable (auto), or Django's threaded development server",
    )
    parser.add_argument(
        "--server-workers", type=int, default=2, help="gunicorn worker processes (default 2)"
    )
    parser.add_argument(
        "--threads", type=int, default=8, help="threads per gunicorn worker (default 8)"
    )
    parser.add_argument(
        "--cache",
        choices=["auto", "redis", "locmem"],
        default="auto",
        help="rate-limit counters in Redis (REDIS_URL, default redis://127.0.0.1:6379/0) when "
        "the redis package and server are there (auto), or in local memory",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="measure nothing: time each request's SQL, commits and cache calls instead",
    )
    args = parser.parse_args(list(argv))
    quick = args.quick
    try:
        modes = tuple(MODES[name] for name in args.modes.split(","))
    except KeyError as error:
        parser.error(f"unknown mode {error}; use {', '.join(MODES)}")
    # The ratio is API run / honest bare view: both run whatever else was asked for.
    modes = tuple(dict.fromkeys([API, BARE_PREPARED, *modes]))
    return Options(
        quick=quick,
        seconds=args.seconds or (1.0 if quick else 4.0),
        warmup=args.warmup if args.warmup is not None else (0.5 if quick else 1.0),
        rounds=args.rounds or 3,
        clients=tuple(int(n) for n in (args.clients or ("1,4,16" if quick else "1,16")).split(",")),
        modes=modes,
        server=args.server,
        server_workers=args.server_workers,
        threads=args.threads,
        cache=args.cache,
        diagnose=args.diagnose,
    )


# -- the cache and the server ----------------------------------------------------------------


def redis_url(choice: str) -> str:
    """The Redis server to count requests in, or ``""`` for local memory."""
    if choice == "locmem":
        return ""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    problem = None
    if importlib.util.find_spec("redis") is None:
        problem = "the redis package is not installed"
    else:
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except (redis.RedisError, OSError) as error:
            problem = f"no Redis server at {url}: {error}"
    if problem is None:
        return url
    if choice == "redis":
        raise BenchmarkError(problem)
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """The project served on 127.0.0.1 by gunicorn or by Django's threaded server."""

    def __init__(self, options: Options, environment: dict[str, str]) -> None:
        self.port = free_port()
        use_gunicorn = options.server == "gunicorn" or (
            options.server == "auto" and importlib.util.find_spec("gunicorn") is not None
        )
        # Diagnosing, one process serves every request, so all of them find it warmed up.
        workers = 1 if options.diagnose else options.server_workers
        if use_gunicorn:
            self.description = (
                f"gunicorn gthread, {workers} worker process(es) x {options.threads} threads"
            )
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--worker-class",
                "gthread",
                "--workers",
                str(workers),
                "--threads",
                str(options.threads),
                "--keep-alive",
                "75",
                "--backlog",
                "256",
                "--timeout",
                "120",
                "--log-level",
                "warning",
                "--preload",  # Django is set up before the fork: every worker is ready at once
                "benchmarks.api_project.wsgi:application",
            ]
        else:
            self.description = "Django's threaded development server (wsgiref), 1 process"
            if options.server == "auto":
                self.description += (
                    " (gunicorn is not installed: run with uv run --with 'gunicorn>=22,<24')"
                )
            command = [
                sys.executable,
                "-m",
                "benchmarks.api_project.serve",
                "127.0.0.1",
                str(self.port),
            ]
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()[-5000:]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the server stopped at start-up:\n{self.output()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/bare/ready")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchmarkError(f"the server did not answer within {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# -- CPU accounting ------------------------------------------------------------------------


class CPUProbe:
    """CPU seconds used so far by the server's processes, by this database's PostgreSQL
    backends (other than this process's own) and by this process (the clients), read from
    ``/proc``: Linux only, and PostgreSQL must run on this machine."""

    def __init__(self, server_pid: int) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.server_pids = [server_pid, *self.children(server_pid)]

    @staticmethod
    def available() -> bool:
        return Path("/proc/self/stat").exists()

    @staticmethod
    def children(parent: int) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
        return found

    def cpu(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime, every thread

    def snapshot(self) -> dict[tuple[str, int], float]:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            backends = [pid for (pid,) in cursor.fetchall()]
        values = {("server", pid): self.cpu(pid) for pid in self.server_pids}
        values.update({("postgres", pid): self.cpu(pid) for pid in backends})
        values[("clients", 0)] = time.process_time()
        return values

    @staticmethod
    def spent(
        before: dict[tuple[str, int], float], after: dict[tuple[str, int], float]
    ) -> dict[str, float]:
        """CPU seconds of each kind between two snapshots (a backend that appeared in between
        counts from zero)."""
        totals = {"server": 0.0, "postgres": 0.0, "clients": 0.0}
        for (kind, pid), value in after.items():
            totals[kind] += value - before.get((kind, pid), 0.0)
        return totals


# -- the clients ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    #: Send a new ``Idempotency-Key`` with each request.
    keyed: bool = False


def requests_for(token: str, bare_owner_id: int) -> dict[str, Request]:
    """The request of each mode. The bare view gets the same headers and body as the API."""
    body = json.dumps({"input": {}}).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    api = Request("POST", f"/api/v1/services/{SLUG}/runs", body, headers)
    return {
        API.name: api,
        API_KEYED.name: Request(api.method, api.path, body, headers, keyed=True),
        BARE.name: Request("POST", f"/bare/charge/{bare_owner_id}", body, headers),
        BARE_PREPARED.name: Request(
            "POST", f"/bare/charge-prepared/{bare_owner_id}", body, headers
        ),
    }


@dataclass
class ClientResult:
    count: int = 0  # 2xx responses in the measured window
    total: int = 0  # 2xx responses, warm-up included
    latencies: list[float] = field(default_factory=list)
    error: str | None = None
    headers: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Load:
    rate: float
    latencies: list[float]
    total: int
    headers: list[dict[str, str]]
    #: CPU seconds per measured request of the server, PostgreSQL and the clients.
    cpu: dict[str, float] | None = None


def client(
    port: int,
    request: Request,
    tag: str,
    start: threading.Barrier,
    window: list[float],
    failed: threading.Event,
    result: ClientResult,
    keep_headers: bool,
) -> None:
    """Send ``request`` back to back on one keep-alive connection until the window ends."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = dict(request.headers)
    number = 0
    try:
        connection.connect()
        start.wait()
        begin, end = window  # set by the barrier's action, before any client is released
        while not failed.is_set():
            if request.keyed:
                number += 1
                headers["Idempotency-Key"] = f"{tag}-{number}"
            sent = time.perf_counter()
            connection.request(request.method, request.path, request.body, headers)
            response = connection.getresponse()
            data = response.read()
            done = time.perf_counter()
            if not 200 <= response.status < 300:
                result.error = f"{response.status} {response.reason}: {data[:2000].decode()}"
                failed.set()
                break
            result.total += 1
            if keep_headers:
                result.headers.append(
                    {k.lower(): v for k, v in response.getheaders() if k.startswith("X-Bench")}
                )
            if done >= end:
                break
            if done >= begin:
                result.count += 1
                result.latencies.append(done - sent)
    except threading.BrokenBarrierError:
        pass  # another client failed to connect: its error is the one to report
    except Exception as error:  # noqa: BLE001 (reported by the caller)
        result.error = result.error or f"{type(error).__name__}: {error}"
        failed.set()
        start.abort()
    finally:
        connection.close()


def load(
    port: int,
    request: Request,
    clients: int,
    warmup: float,
    seconds: float,
    tag: str,
    *,
    keep_headers: bool = False,
    probe: CPUProbe | None = None,
) -> Load:
    """Requests per second that ``clients`` connections complete in ``seconds`` (and, with a
    ``probe``, the CPU time each took)."""
    results = [ClientResult() for _ in range(clients)]
    failed = threading.Event()
    window: list[float] = []

    def go() -> None:  # when every client is connected: the clock starts
        now = time.perf_counter()
        window.extend([now + warmup, now + warmup + seconds])

    start = threading.Barrier(clients, action=go)
    threads = [
        threading.Thread(
            target=lambda index=index: client(
                port,
                request,
                f"{tag}-{index}",
                start,
                window,
                failed,
                results[index],
                keep_headers,
            ),
            daemon=True,
        )
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    spent = None
    if probe is not None:
        spent = measure_cpu(probe, window, failed, timeout=warmup + seconds + 60)
    for thread in threads:
        thread.join(timeout=warmup + seconds + 120)
        if thread.is_alive():
            failed.set()
            raise BenchmarkError("a client did not finish in time")
    errors = [result.error for result in results if result.error]
    if errors:
        raise BenchmarkError(f"{request.method} {request.path} failed: {errors[0]}")
    count = sum(result.count for result in results)
    if not count:
        raise BenchmarkError(
            f"no request to {request.path} completed in the measured window: use more --seconds"
        )
    return Load(
        rate=count / seconds,
        latencies=[latency for result in results for latency in result.latencies],
        total=sum(result.total for result in results),
        headers=[headers for result in results for headers in result.headers],
        cpu=None if spent is None else {kind: value / count for kind, value in spent.items()},
    )


def measure_cpu(
    probe: CPUProbe, window: list[float], failed: threading.Event, timeout: float
) -> dict[str, float] | None:
    """The CPU spent in the measured window, once the clients have started it."""
    deadline = time.perf_counter() + timeout
    while not window:  # the clients are connecting
        if failed.is_set() or time.perf_counter() > deadline:
            return None
        time.sleep(0.01)
    begin, end = window
    time.sleep(max(0.0, begin - time.perf_counter()))
    before = probe.snapshot()
    time.sleep(max(0.0, end - time.perf_counter()))
    return probe.spent(before, probe.snapshot())


# -- the project's data --------------------------------------------------------------------


def setup_project(environment: dict[str, str]) -> None:
    """Set Django up in this process with the benchmark project's settings."""
    from django.conf import settings

    if settings.configured:
        raise BenchmarkError(
            "Django is already set up in this process; run the API benchmark on its own "
            "(python -m benchmarks api)"
        )
    os.environ.update(environment)
    import django

    django.setup()


@dataclass(frozen=True)
class Accounts:
    token: str
    api_owner_id: int
    bare_owner_id: int


def create_accounts() -> Accounts:
    """The API's account with its key, and the bare view's account, each holding one grant
    of ``GRANT`` credits that never expires. (The bare view's debits do not come with runs,
    so they get an account of their own and the API's runs and debits can be counted.)"""
    from django.contrib.auth import get_user_model

    from quickscale.apikeys.keys import create_key
    from quickscale.credits import ledger

    user_model = get_user_model()
    api_owner = user_model.objects.create(username="bench-api")
    ledger.grant(api_owner, GRANT, source="admin", expires_at=None)
    _, token = create_key(
        api_owner, "benchmark", scopes=["services:write"], rate_limit=KEY_RATE_LIMIT
    )
    bare_owner = user_model.objects.create(username="bench-bare")
    ledger.grant(bare_owner, GRANT, source="admin", expires_at=None)
    return Accounts(token, api_owner.pk, bare_owner.pk)


def vacuum() -> None:
    """Clear the previous run's dead row versions (accounts, runs) so runs start alike."""
    from django.db import connection

    from quickscale.credits.models import CreditAccount
    from quickscale.services.models import ServiceRun

    with connection.cursor() as cursor:
        for model in (CreditAccount, ServiceRun):
            cursor.execute(f"VACUUM {model._meta.db_table}")


def check_consistency(accounts: Accounts, api_requests: int, bare_requests: int) -> None:
    """Every 2xx answered was one successful run and one debit, every bare charge one debit,
    and both accounts are consistent (a benchmark of wrong code proves nothing, and a bare
    view that skips part of the work is no baseline)."""
    from django.contrib.auth import get_user_model

    from quickscale.credits import ledger
    from quickscale.credits.models import CreditTransaction
    from quickscale.services.models import ServiceRun

    owner = get_user_model().objects.get(pk=accounts.api_owner_id)
    runs = ServiceRun.objects.filter(user=owner)
    succeeded = runs.filter(status="succeeded").count()
    debits = CreditTransaction.objects.filter(account__owner=owner, kind="debit").count()
    spent = GRANT - ledger.balance(owner).balance
    bare_spent = GRANT - ledger.balance(accounts.bare_owner_id).balance
    problems = []
    if not succeeded == runs.count() == debits == spent == api_requests:
        problems.append(
            f"{api_requests} runs answered, {runs.count()} recorded, {succeeded} succeeded, "
            f"{debits} debits, {spent} credits spent"
        )
    if bare_spent != bare_requests:
        problems.append(f"{bare_requests} bare charges answered, {bare_spent} credits spent")
    problems.extend(str(problem) for problem in ledger.verify(owner))
    problems.extend(str(problem) for problem in ledger.verify(accounts.bare_owner_id))
    if problems:
        raise BenchmarkError(f"the runs left an inconsistent state: {problems[:5]}")


# -- the measurements ------------------------------------------------------------------------


@dataclass
class Result:
    clients: int
    rates: dict[str, list[float]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    #: Per mode, per kind (server, postgres, clients): CPU seconds per request of each round.
    cpu: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def ratio(self, mode: Mode, base: Mode = BARE_PREPARED) -> float:
        """The median of the rounds' ratios (each round's runs went back to back)."""
        pairs = zip(self.rates[mode.name], self.rates[base.name], strict=True)
        return median([ours / theirs for ours, theirs in pairs])


def measure(
    port: int, requests: dict[str, Request], options: Options, probe: CPUProbe | None
) -> tuple[list[Result], dict[str, int]]:
    results = {count: Result(count) for count in options.clients}
    for result in results.values():
        for mode in options.modes:
            result.rates[mode.name], result.latencies[mode.name] = [], []
            result.cpu[mode.name] = {"server": [], "postgres": [], "clients": []}
    answered = {mode.name: 0 for mode in options.modes}
    for number in range(options.rounds):
        for count in options.clients:
            order = options.modes if (number + count) % 2 == 0 else options.modes[::-1]
            for mode in order:
                vacuum()
                tag = f"{os.getpid()}-{mode.name}-{count}-{number}"
                got = load(
                    port,
                    requests[mode.name],
                    count,
                    options.warmup,
                    options.seconds,
                    tag,
                    probe=probe,
                )
                results[count].rates[mode.name].append(got.rate)
                results[count].latencies[mode.name].extend(got.latencies)
                for kind, seconds in (got.cpu or {}).items():
                    results[count].cpu[mode.name][kind].append(seconds)
                answered[mode.name] += got.total
                print(
                    f"  round {number + 1}/{options.rounds}: {count:>2} client(s), "
                    f"{mode.label:<26} {got.rate:>7,.0f} requests/s",
                    flush=True,
                )
    return list(results.values()), answered


def diagnose(port: int, requests: dict[str, Request], options: Options) -> None:
    """One client per mode; where each request's time goes, from the server's headers."""
    seconds = 0.5 if options.quick else 3.0
    rows = []
    statements: dict[str, list[str]] = {}
    for mode in options.modes:
        vacuum()
        tag = f"{os.getpid()}-diagnose-{mode.name}"
        got = load(port, requests[mode.name], 1, 0.5, seconds, tag, keep_headers=True)
        measured = got.headers[-len(got.latencies) :] if got.latencies else got.headers

        def middle(name: str, measured: list[dict[str, str]] = measured) -> float:
            return median([float(headers[name]) for headers in measured])

        trip = median(got.latencies) * 1e6
        django_us = middle("x-bench-django-us")
        sql, commit, cache = (
            middle("x-bench-sql-us"),
            middle("x-bench-commit-us"),
            middle("x-bench-cache-us"),
        )
        last = measured[-1]
        calls = [call for call in last["x-bench-cache-calls"].split(",") if call]
        rows.append(
            [
                mode.label,
                f"{trip:,.0f}",
                f"{trip - django_us:,.0f}",
                f"{django_us:,.0f}",
                last["x-bench-queries"],
                f"{sql:,.0f}",
                last["x-bench-commits"],
                f"{commit:,.0f}",
                len(calls),
                f"{cache:,.0f}",
                f"{django_us - sql - commit - cache:,.0f}",
            ]
        )
        statements[mode.label] = [
            *json.loads(last["x-bench-statements"]),
            *(f"(cache) {call}" for call in calls),
        ]
    print()
    print(f"Where a request's time goes, in µs (median of {seconds:g} s with 1 client)")
    print(
        table(
            [
                "mode",
                "round trip",
                "server+HTTP",
                "Django",
                "SQL",
                "SQL µs",
                "commits",
                "commit µs",
                "cache",
                "cache µs",
                "Python",
            ],
            rows,
        )
    )
    print(
        "(server+HTTP: round trip minus Django's part; Python: Django's part minus SQL, commit "
        "and cache; the timing itself adds a little to each)"
    )
    for label, listed in statements.items():
        print()
        print(f"{label}: what one request runs")
        for number, statement in enumerate(listed, 1):
            print(f"  {number:>2}. {statement[:220]}")
    profiled = replace(
        requests[API.name], headers={**requests[API.name].headers, "X-Bench-Profile": "1"}
    )
    load(port, profiled, 1, 0.5, seconds, f"{os.getpid()}-profile")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/bare/profile")
    print()
    print(f"{API.label}: the server's profile (cProfile, {seconds:g} s with 1 client)")
    print(connection.getresponse().read().decode())
    connection.close()


def time_steps(accounts: Accounts, options: Options) -> None:
    """The steps of an API run called one by one in this process (no HTTP, no profiler), with
    the benchmark's settings and cache: wall and CPU time of each."""
    from django.contrib.auth import get_user_model
    from django.http import JsonResponse

    from benchmarks.bench_ledger import baseline_debit
    from quickscale.api import serializers
    from quickscale.apikeys import ratelimit
    from quickscale.apikeys.keys import authenticate
    from quickscale.services.execution import execute, prepare

    user = get_user_model().objects.get(pk=accounts.api_owner_id)
    key = authenticate(accounts.token, "127.0.0.1")
    run = execute(user, SLUG, {})
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "key lookup (1 SELECT) and HMAC: keys.authenticate",
            lambda: authenticate(accounts.token, "127.0.0.1"),
        ),
        (
            "both rate limits: ratelimit.admit (from the lease, or 1 cache round trip)",
            lambda: ratelimit.admit("127.0.0.1", key.key_id, KEY_RATE_LIMIT),
        ),
        (
            "the run: services.execute (2 statements, no transaction)",
            lambda: execute(user, SLUG, {}),
        ),
        ("  of which: execution.prepare (1 SELECT)", lambda: prepare(SLUG, {})),
        ("the answer: serializers.run + JsonResponse", lambda: JsonResponse(serializers.run(run))),
        (
            "baseline: the honest bare view's SQL (1 prepared statement, autocommit)",
            lambda: baseline_debit(accounts.bare_owner_id, prepared=True),
        ),
    ]
    calls = 30 if options.quick else 300
    wall: list[list[float]] = [[] for _ in steps]
    cpu: list[list[float]] = [[] for _ in steps]
    for _ in range(10):  # warm-up
        for _, step in steps:
            step()
    for _ in range(calls):
        for index, (_, step) in enumerate(steps):
            started, started_cpu = time.perf_counter(), time.thread_time()
            step()
            cpu[index].append(time.thread_time() - started_cpu)
            wall[index].append(time.perf_counter() - started)
    print()
    print(f"The steps of an API run called in this process, in µs (median of {calls} calls)")
    print(
        table(
            ["step", "wall", "CPU"],
            [
                [label, f"{median(wall[index]) * 1e6:,.0f}", f"{median(cpu[index]) * 1e6:,.0f}"]
                for index, (label, _) in enumerate(steps)
            ],
        )
    )
    print("(CPU: this thread's, so PostgreSQL's and Redis's work is not in it)")


# -- the report ------------------------------------------------------------------------------


def report(results: list[Result], options: Options) -> None:
    modes = options.modes
    others = [mode for mode in modes if mode not in (API, BARE_PREPARED)]
    print()
    print(
        f"Requests per second (median of {options.rounds} round(s) of {options.seconds:g} s "
        f"after {options.warmup:g} s warm-up)"
    )
    print(
        table(
            [
                "clients",
                *(mode.label for mode in modes),
                f"API/{BARE_PREPARED.name}",
                "target",
                "status",
                *(f"{mode.name}/{BARE_PREPARED.name}" for mode in others),
            ],
            [
                [
                    result.clients,
                    *(f"{median(result.rates[mode.name]):,.0f}" for mode in modes),
                    f"{result.ratio(API):.2f}",
                    *target_and_status(result),
                    *(f"{result.ratio(mode):.2f}" for mode in others),
                ]
                for result in results
            ],
        )
    )
    print()
    print("Response time in ms (median and 95th percentile of every measured request)")
    print(
        table(
            [
                "clients",
                *(
                    f"{name} {part}"
                    for mode in modes
                    for name, part in ((mode.name, "p50"), ("", "p95"))
                ),
            ],
            [
                [
                    result.clients,
                    *(
                        f"{statistic(result.latencies[mode.name]) * 1000:.2f}"
                        for mode in modes
                        for statistic in (median, lambda values: percentile(values, 0.95))
                    ),
                ]
                for result in results
            ],
        )
    )
    if any(result.cpu[API.name]["server"] for result in results):
        print()
        print("CPU time per request in ms (median of the rounds)")
        print(
            table(
                ["clients", "mode", "server", "PostgreSQL", "server+PostgreSQL", "clients"],
                [
                    [
                        result.clients,
                        mode.label,
                        *(
                            f"{median(values) * 1000:.2f}"
                            for values in (
                                result.cpu[mode.name]["server"],
                                result.cpu[mode.name]["postgres"],
                                [
                                    a + b
                                    for a, b in zip(
                                        result.cpu[mode.name]["server"],
                                        result.cpu[mode.name]["postgres"],
                                        strict=True,
                                    )
                                ],
                                result.cpu[mode.name]["clients"],
                            )
                        ),
                    ]
                    for result in results
                    for mode in modes
                ],
            )
        )
    print()
    for result in results:
        target, status = target_and_status(result)
        print(
            f"API ratio ours/baseline at {result.clients} client(s): {result.ratio(API):.2f} "
            f"(baseline: {BARE_PREPARED.label}, one statement; "
            + ("no target)" if status == "-" else f"target {target}: {status})")
        )
    print("(the CPU cost of verifying the key alone is measured by `python -m benchmarks apikeys`)")
    if options.quick:
        print("(quick run: short runs; the figures are indicative only)")


def target_and_status(result: Result) -> tuple[str, str]:
    """The target of ``result``'s client count and whether the API run met it (``-``: none)."""
    target = TARGETS.get(result.clients)
    if target is None:
        return "-", "-"
    return f">= {target}", verdict(result.ratio(API), target, at_least=True)


def describe(server: Server, cache: str) -> str:
    import platform

    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
    return (
        f"PostgreSQL {version.split()[0]}, Django {django.get_version()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s)\n"
        f"server: {server.description}\n"
        f"cache: {f'Redis at {cache}' if cache else 'local memory (one per server process)'}\n"
        f"code sha256 {code_digest(*SOURCES)} (API views, key middleware, services, ledger, "
        "prepared statements)"
    )


def main(argv: Sequence[str]) -> int:
    options = parse(argv)
    started = time.perf_counter()
    if importlib.util.find_spec("quickscale.api.urls") is None:
        print("API benchmark failed: quickscale.api.urls does not exist", file=sys.stderr)
        return 1
    try:
        cache = redis_url(options.cache)
        with bench_database() as url:
            environment = {
                "DJANGO_SETTINGS_MODULE": SETTINGS,
                "QS_BENCH_DATABASE_URL": url,
                "QS_BENCH_REDIS_URL": cache,
                "QS_BENCH_CACHE_PREFIX": f"qs_bench_{os.getpid()}",
                "QS_BENCH_DIAGNOSE": "1" if options.diagnose else "0",
            }
            setup_project(environment)
            migrate()
            accounts = create_accounts()
            server_environment = {
                **os.environ,
                **environment,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
            server = Server(options, server_environment)
            try:
                print(describe(server, cache), flush=True)
                requests = requests_for(accounts.token, accounts.bare_owner_id)
                if options.diagnose:
                    diagnose(server.port, requests, options)
                    time_steps(accounts, options)
                    return 0
                print(f"clients: {', '.join(map(str, options.clients))}", flush=True)
                probe = CPUProbe(server.process.pid) if CPUProbe.available() else None
                results, answered = measure(server.port, requests, options, probe)
            except BenchmarkError as error:
                raise BenchmarkError(f"{error}\nserver output:\n{server.output()}") from None
            finally:
                server.stop()
            check_consistency(
                accounts,
                answered[API.name] + answered.get(API_KEYED.name, 0),
                answered[BARE.name] + answered.get(BARE_PREPARED.name, 0),
            )
            report(results, options)
    except BenchmarkError as error:
        print(f"API benchmark failed: {error}", file=sys.stderr)
        return 1
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

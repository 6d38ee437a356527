"""Where a request's time goes: ``--diagnose`` serves the project with this middleware first.

For every request it counts the SQL statements and the cache calls (a rate-limit check is one
call, whatever it sends) and times them, times the
commits, and times the whole of Django's work (every middleware, the view); it sends the figures
back in ``X-Bench-*`` headers, with the statements (and the µs each took) in
``X-Bench-Statements``. A request sent with ``X-Bench-Profile: 1`` also runs under ``cProfile``;
``GET /bare/profile`` answers with the functions those requests spent most time in, and starts
over. Timing every call slows the requests a little, so throughput is never measured with it.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse

#: How many functions ``GET /bare/profile`` lists.
PROFILE_LINES = 40

_current = threading.local()


class Tally:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.sql = 0.0
        self.commits = 0
        self.commit = 0.0
        self.cache_calls: list[str] = []
        self.cache = 0.0


def _tally() -> Tally | None:
    return getattr(_current, "tally", None)


def _count_sql(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        tally = _tally()
        if tally is not None:
            elapsed = time.perf_counter() - started
            tally.sql += elapsed
            tally.statements.append(f"[{elapsed * 1e6:,.0f} µs] {' '.join(sql.split())}")


def _timed(function: Callable[..., Any], record: Callable[[float, str], None]) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if _tally() is not None:
                record(time.perf_counter() - started, function.__name__)

    return wrapper


def _record_commit(seconds: float, name: str) -> None:
    tally = _tally()
    assert tally is not None
    tally.commits += 1
    tally.commit += seconds


def _record_cache(seconds: float, name: str) -> None:
    tally = _tally()
    assert tally is not None
    tally.cache_calls.append(name)
    tally.cache += seconds


_installed = False


def _install() -> None:
    """Wrap the commit of every connection and the calls of the cache's class."""
    global _installed
    if _installed:
        return
    _installed = True
    BaseDatabaseWrapper._commit = _timed(BaseDatabaseWrapper._commit, _record_commit)  # type: ignore[method-assign]
    backend = type(caches["default"])
    for name in ("get", "add", "incr", "set", "get_many", "delete"):
        setattr(backend, name, _timed(getattr(backend, name), _record_cache))


class DiagnosticsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.profile: pstats.Stats | None = None
        self.lock = threading.Lock()
        _install()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/bare/profile":
            return self.report()
        profiler = (
            cProfile.Profile(time.thread_time) if request.headers.get("X-Bench-Profile") else None
        )
        tally = _current.tally = Tally()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(_count_sql):
                if profiler is None:
                    response = self.get_response(request)
                else:
                    response = profiler.runcall(self.get_response, request)
        finally:
            _current.tally = None
        if profiler is not None:
            with self.lock:
                if self.profile is None:
                    self.profile = pstats.Stats(profiler)
                else:
                    self.profile.add(profiler)
        elapsed = time.perf_counter() - started
        response["X-Bench-Django-us"] = f"{elapsed * 1e6:.0f}"
        response["X-Bench-Queries"] = str(len(tally.statements))
        response["X-Bench-SQL-us"] = f"{tally.sql * 1e6:.0f}"
        response["X-Bench-Commits"] = str(tally.commits)
        response["X-Bench-Commit-us"] = f"{tally.commit * 1e6:.0f}"
        response["X-Bench-Cache-Calls"] = ",".join(tally.cache_calls)
        response["X-Bench-Cache-us"] = f"{tally.cache * 1e6:.0f}"
        response["X-Bench-Statements"] = json.dumps(tally.statements)
        return response

    def report(self) -> HttpResponse:
        with self.lock:
            profile, self.profile = self.profile, None
        if profile is None:
            return HttpResponse("nothing was profiled", content_type="text/plain")
        out = io.StringIO()
        out.write(by_step(profile))
        out.write(by_package(profile))
        profile.stream = out  # type: ignore[attr-defined]
        profile.strip_dirs().sort_stats("cumulative").print_stats(PROFILE_LINES)
        profile.sort_stats("tottime").print_stats(PROFILE_LINES)
        return HttpResponse(out.getvalue(), content_type="text/plain")


#: Where a function's own time is counted, by the path of its file (first match wins).
PACKAGES = [
    ("/redis/", "redis-py (the cache client)"),
    ("django/core/cache/", "Django's cache"),
    ("/psycopg", "psycopg"),
    ("django/db/models/", "Django ORM: models, queries, SQL compiler"),
    ("django/db/", "Django db: connections, transactions, cursors"),
    ("/quickscale/apikeys/", "quickscale.apikeys"),
    ("/quickscale/api/", "quickscale.api"),
    ("/quickscale/services/", "quickscale.services"),
    ("/quickscale/credits/", "quickscale.credits"),
    ("/quickscale/", "quickscale (other)"),
    ("/json/", "json"),
    ("django/", "Django: requests, middleware, responses, other"),
    ("<built-in", "C functions (sockets, builtins)"),
    ("~", "C functions (sockets, builtins)"),
]


def by_package(profile: pstats.Stats) -> str:
    """The profiled time, each function's own time counted under its package."""
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, own, _, _) in profile.stats.items():  # type: ignore[attr-defined]
        name = next((label for part, label in PACKAGES if part in filename), "other")
        totals[name] = totals.get(name, 0.0) + own
    whole = sum(totals.values()) or 1.0
    lines = [
        "Own CPU time of the request thread by package "
        "(under cProfile, which inflates the Python calls):"
    ]
    for name, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        lines.append(f"  {seconds / whole:6.1%}  {name}")
    return "\n".join(lines) + "\n\n"


#: The main steps of an API run, by file and function; a step's time includes what it calls.
STEPS = [
    ("quickscale/apikeys/middleware.py", "__call__", "API key middleware, all of it"),
    ("quickscale/apikeys/keys.py", "authenticate", "  key lookup (1 SELECT) and HMAC"),
    (
        "quickscale/apikeys/ratelimit.py",
        "admit",
        "  both rate limits (a lease, or a few cache calls)",
    ),
    ("quickscale/api/decorators.py", "read_json", "JSON body"),
    ("quickscale/api/views.py", "create_run", "the view, all of it"),
    ("quickscale/services/execution.py", "_first_run", "  idempotency look-up (1 SELECT)"),
    ("quickscale/services/execution.py", "prepare", "  service, catalog row and run id (1 SELECT)"),
    ("quickscale/services/execution.py", "_run_inline", "  the inline run, all of it"),
    ("quickscale/services/execution.py", "_call_inline", "    the service's own run"),
    (
        "quickscale/credits/ledger.py",
        "debit",
        "    ledger.debit with the run's INSERT (1 statement)",
    ),
    ("quickscale/credits/ledger.py", "balance", "  ledger.balance for the answer (replays)"),
    ("quickscale/api/serializers.py", "run", "  the run as JSON"),
]


def by_step(profile: pstats.Stats) -> str:
    """The profiled time of each main step (including what it calls), per request."""
    stats = profile.stats  # type: ignore[attr-defined]
    whole = profile.total_tt  # type: ignore[attr-defined]
    requests = max(
        (
            calls
            for (filename, _, name), (_, calls, _, _, _) in stats.items()
            if filename.endswith("quickscale/apikeys/middleware.py") and name == "__call__"
        ),
        default=1,
    )
    lines = [
        f"CPU time per request by step ({whole / requests * 1000:.1f} ms a request under "
        "cProfile, which inflates the Python calls):"
    ]
    for path, function, label in STEPS:
        seconds = sum(
            cumulative
            for (filename, _, name), (_, _, _, cumulative, _) in stats.items()
            if filename.endswith(path) and name == function
        )
        if seconds:
            lines.append(f"  {seconds / whole:6.1%}  {label}")
    return "\n".join(lines) + "\n\n"

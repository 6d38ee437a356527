"""The audit log on PostgreSQL: what auditing adds to a write, and the admin at a million events.

1. **Overhead per audited write.** ``ledger.debit(user, 1)`` and ``ledger.grant(user, 1)``, each
   timed with the audit log recording it (``credits.debited``/``credits.granted``: one more
   ``INSERT`` in the same transaction) and without (the same call with the action in
   ``QUICKSCALE_AUDIT_EXCLUDE``, so the receiver returns at once). The two take turns, call after
   call, on one account; the figures are medians. Target: overhead <= 0.3 ms per write.
2. **The admin changelist at 1,000,000 events.** The events are written by one
   ``INSERT ... SELECT generate_series`` (a year of six kinds of actions by 5,000 users, their
   hash columns filled with placeholders: sealing is measured separately), then analysed. The
   changelist is requested through Django's test client as a superuser, as the admin serves it:
   the first page, a deep page, each filter and a search. Target: < 200 ms per request.
3. **Sealing throughput**: the events the writes of (1) left unsealed, sealed in batches.

``python -m benchmarks audit [--writes N] [--events N] [--requests N] [--quick]``
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.common import (
    INSTALLED_APPS,
    BenchmarkError,
    base_arguments,
    bench_database,
    median,
    migrate,
    percentile,
    setup_django,
    table,
    time_interleaved,
    verdict,
)

WRITE_TARGET_MS = 0.3  # audited - unaudited, at most
CHANGELIST_TARGET_MS = 200.0  # per request, at most
ONE = Decimal(1)
CHANGELIST = "/admin/quickscale_audit/auditevent/"


@dataclass(frozen=True)
class Options:
    quick: bool
    writes: int
    events: int
    requests: int


def parse(argv: Sequence[str]) -> Options:
    parser = base_arguments("audit", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--writes", type=int, help="timed writes of each kind (default 2000)")
    parser.add_argument("--events", type=int, help="events in the admin's table (1,000,000)")
    parser.add_argument("--requests", type=int, help="requests of each page (default 15)")
    args = parser.parse_args(list(argv))
    quick = args.quick
    return Options(
        quick=quick,
        writes=args.writes or (100 if quick else 2000),
        events=args.events or (20_000 if quick else 1_000_000),
        requests=args.requests or (3 if quick else 15),
    )


def settings_overrides() -> dict[str, Any]:
    return {
        "INSTALLED_APPS": [
            "django.contrib.admin",
            *INSTALLED_APPS,
            "django.contrib.sessions",
            "django.contrib.messages",
            "quickscale.audit",
        ],
        "ROOT_URLCONF": "benchmarks.audit_urls",
        "ALLOWED_HOSTS": ["testserver"],
        "MIDDLEWARE": [
            "django.contrib.sessions.middleware.SessionMiddleware",
            "quickscale.core.middleware.RequestContextMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
    }


# -- 1. writes ---------------------------------------------------------------------------------


@dataclass
class WriteResult:
    name: str
    audited: list[float]
    unaudited: list[float]

    @property
    def overhead_ms(self) -> float:
        return (median(self.audited) - median(self.unaudited)) * 1000

    @property
    def ratio(self) -> float:
        return median(self.audited) / median(self.unaudited)


def measure_writes(options: Options) -> list[WriteResult]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from quickscale.credits import ledger

    user = get_user_model().objects.create(username="writer")
    ledger.grant(user, Decimal(10_000_000), source="admin", expires_at=None)

    def audited(write: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            settings.QUICKSCALE_AUDIT_EXCLUDE = []
            return write()

        return run

    def unaudited(write: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            settings.QUICKSCALE_AUDIT_EXCLUDE = ["credits"]
            return write()

        return run

    writes = {
        "ledger.debit(user, 1)": lambda: ledger.debit(user, ONE),
        "ledger.grant(user, 1)": lambda: ledger.grant(user, ONE, source="admin", expires_at=None),
    }
    results = []
    for name, write in writes.items():
        timings = time_interleaved(
            [audited(write), unaudited(write)],
            options.writes,
            warmup=min(200, options.writes),
        )
        results.append(WriteResult(name, *timings))
        print(f"  {name}: {options.writes:,} writes of each", flush=True)
    settings.QUICKSCALE_AUDIT_EXCLUDE = []
    return results


# -- 2. the admin at a million events ---------------------------------------------------------


def load_events(count: int) -> None:
    """``count`` events in one statement, sealed with placeholder hashes, then analysed."""
    from django.db import connection

    from quickscale.audit.models import AuditEvent, ChainHead

    table_name = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table_name} (occurred_at, action, outcome, actor_type, actor_id, "
            "actor_repr, api_key_id, ip, user_agent, request_id, target_type, target_id, "
            "target_repr, changes, metadata, chain_position, prev_hash, row_hash) "
            "SELECT now() - (%(count)s - n) * interval '30 seconds', "
            "(ARRAY['auth.login', 'credits.debited', 'credits.granted', 'apikey.created', "
            "'admin.change', 'services.catalog.updated'])[1 + n %% 6], "
            "CASE WHEN n %% 50 = 0 THEN 'failure' ELSE 'success' END, "
            "'user', (n %% 5000)::text, 'user' || (n %% 5000) || '@example.com', '', "
            "('10.0.' || (n %% 250) || '.' || (n %% 200))::inet, 'Mozilla/5.0 (benchmark)', "
            "md5(n::text), 'quickscale_credits.creditaccount', (n %% 20000)::text, "
            "'credits of user ' || (n %% 5000), "
            '\'{"balance": ["10.00", "9.00"]}\'::jsonb, \'{"amount": "1.00"}\'::jsonb, '
            "n, lpad(to_hex(n - 1), 64, '0'), lpad(to_hex(n), 64, '0') "
            "FROM generate_series(1, %(count)s) AS n",
            {"count": count},
        )
        cursor.execute(f"VACUUM ANALYZE {table_name}")
    ChainHead.objects.update_or_create(pk=1, defaults={"position": count, "hash": f"{count:064x}"})


@dataclass
class PageResult:
    name: str
    total: list[float]
    sql: list[float]
    rows: int


def measure_changelist(options: Options) -> list[PageResult]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    admin_user = get_user_model().objects.create_superuser("bench-admin", "a@example.com", "x")
    client = Client()
    client.force_login(admin_user)
    middle = options.events // 2
    pages = {
        "first page": {},
        "page 100": {"p": "100"},
        "action family filter (credits.*)": {"family": "credits"},
        "last 24 hours": {"within": "24h"},
        "not yet sealed": {"sealed": "no"},
        f"search: actor id {middle % 5000}": {"q": str(middle % 5000)},
        "search: an action": {"q": "apikey.created"},
    }
    results = []
    for name, query in pages.items():
        total: list[float] = []
        sql: list[float] = []
        rows = 0
        for _ in range(options.requests + 1):  # the first request warms the caches
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(CHANGELIST, query)
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise BenchmarkError(f"{name}: the changelist answered {response.status_code}")
            rows = response.content.count(b'<th class="field-id"')
            total.append(elapsed)
            sql.append(sum(float(query["time"]) for query in captured.captured_queries))
        results.append(PageResult(name, total[1:], sql[1:], rows))
        print(f"  {name}: {median(total[1:]) * 1000:.1f} ms", flush=True)
    return results


def measure_sealing() -> tuple[int, float]:
    from quickscale.audit import chain

    started = time.perf_counter()
    sealed = chain.seal()
    return sealed, time.perf_counter() - started


# -- the report --------------------------------------------------------------------------------


def report(
    writes: list[WriteResult],
    pages: list[PageResult],
    sealing: tuple[int, float],
    options: Options,
) -> None:
    print()
    print(f"Overhead per audited write (median of {options.writes:,} calls of each, interleaved)")
    print(
        table(
            ["write", "audited ms", "unaudited ms", "overhead ms", "ratio", "target", "status"],
            [
                [
                    result.name,
                    f"{median(result.audited) * 1000:.3f}",
                    f"{median(result.unaudited) * 1000:.3f}",
                    f"{result.overhead_ms:.3f}",
                    f"{result.ratio:.2f}x",
                    f"<= {WRITE_TARGET_MS} ms",
                    verdict(result.overhead_ms, WRITE_TARGET_MS, at_least=False),
                ]
                for result in writes
            ],
        )
    )
    print()
    print(
        f"Admin changelist at {options.events:,} events (median and 95th percentile of "
        f"{options.requests} requests; SQL: the time of its queries)"
    )
    print(
        table(
            ["page", "rows", "request ms", "p95", "SQL ms", "target", "status"],
            [
                [
                    result.name,
                    result.rows,
                    f"{median(result.total) * 1000:.1f}",
                    f"{percentile(result.total, 0.95) * 1000:.1f}",
                    f"{median(result.sql) * 1000:.1f}",
                    f"< {CHANGELIST_TARGET_MS:g} ms",
                    verdict(median(result.total) * 1000, CHANGELIST_TARGET_MS, at_least=False),
                ]
                for result in pages
            ],
        )
    )
    sealed, seconds = sealing
    print()
    for result in writes:
        print(
            f"audited write overhead, {result.name}: {result.overhead_ms:.3f} ms "
            f"(ratio {result.ratio:.2f}; target <= {WRITE_TARGET_MS} ms: "
            f"{verdict(result.overhead_ms, WRITE_TARGET_MS, at_least=False)})"
        )
    slowest = max(pages, key=lambda result: median(result.total))
    slowest_ms = median(slowest.total) * 1000
    print(
        f"admin changelist at {options.events:,} events, slowest page ({slowest.name}): "
        f"{slowest_ms:.1f} ms (target < {CHANGELIST_TARGET_MS:g} ms: "
        f"{verdict(slowest_ms, CHANGELIST_TARGET_MS, at_least=False)})"
    )
    rate = sealed / seconds if seconds else 0.0
    print(f"sealing: {sealed:,} events in {seconds:.2f} s ({rate:,.0f} events/s)")
    if options.quick:
        print("(quick run: the figures are not meaningful)")


def describe() -> str:
    import os
    import platform

    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
        cursor.execute("SHOW synchronous_commit")
        (synchronous,) = cursor.fetchone()
    return (
        f"PostgreSQL {server.split()[0]} (synchronous_commit {synchronous}), "
        f"Django {django.get_version()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s)"
    )


def main(argv: Sequence[str]) -> int:
    options = parse(argv)
    started = time.perf_counter()
    try:
        with bench_database(prefix="qs_audit_bench") as url:
            setup_django(url, **settings_overrides())
            migrate()
            print(describe(), flush=True)
            print(f"loading {options.events:,} events:", flush=True)
            loading = time.perf_counter()
            load_events(options.events)
            print(f"  loaded and analysed in {time.perf_counter() - loading:.1f} s", flush=True)
            print("writes:", flush=True)
            writes = measure_writes(options)
            print("admin changelist:", flush=True)
            pages = measure_changelist(options)
            sealing = measure_sealing()
            report(writes, pages, sealing, options)
    except BenchmarkError as error:
        print(f"audit benchmark failed: {error}", file=sys.stderr)
        return 1
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

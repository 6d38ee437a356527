"""The credit ledger on PostgreSQL: debit throughput on one hot account, and balance reads.

1. Debits per second on ONE account at 1 and 16 concurrent worker processes, for
   ``ledger.debit(user, Decimal("1"))`` and for a baseline: the least SQL a debit needs (a
   conditional ``UPDATE`` of the account returning the new balance, and one ``INSERT`` of the
   ledger entry, in one transaction) through the same Django connection stack. Each
   measurement uses a fresh account holding one grant of 10,000,000 credits, runs for a fixed
   time after a warm-up, and ours and the baseline take turns over several rounds; the figures
   are medians over the rounds. Target: ours / baseline >= 0.7. For reference, a third mode
   sends the same two writes as one statement in autocommit (one round trip, as
   ``ledger.debit`` does on PostgreSQL): ours / that shows what our Python costs.
2. ``ledger.balance(user)`` for an account with 100 ledger entries and one with 1,000,000,
   timed alternately; the figures are medians. Target: big / small <= 1.5.

``python -m benchmarks ledger [--seconds S] [--rounds N] [--workers 1,16] [--quick]``
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from benchmarks.common import (
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

DEBIT_TARGET = 0.7  # ours / baseline, at least
READ_TARGET = 1.5  # big / small, at most
GRANT = Decimal(10_000_000)
ONE = Decimal(1)
MODES = ("ours", "baseline", "single")


@dataclass(frozen=True)
class Options:
    quick: bool
    seconds: float
    warmup: float
    rounds: int
    workers: tuple[int, ...]
    big_rows: int
    small_rows: int
    reads: int


def parse(argv: Sequence[str]) -> Options:
    parser = base_arguments("ledger", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 4)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    parser.add_argument("--rounds", type=int, help="rounds of every configuration (default 3)")
    parser.add_argument(
        "--workers", help="comma-separated worker counts (default 1,16)", default=None
    )
    parser.add_argument("--big-rows", type=int, help="entries of the big account (1,000,000)")
    parser.add_argument("--reads", type=int, help="balance reads per account (default 2000)")
    args = parser.parse_args(list(argv))
    quick = args.quick
    workers = args.workers or ("1,4" if quick else "1,16")
    return Options(
        quick=quick,
        seconds=args.seconds or (0.5 if quick else 4.0),
        warmup=args.warmup if args.warmup is not None else (0.2 if quick else 1.0),
        rounds=args.rounds or (1 if quick else 3),
        workers=tuple(int(number) for number in workers.split(",")),
        big_rows=args.big_rows or (10_000 if quick else 1_000_000),
        small_rows=100,
        reads=args.reads or (100 if quick else 2000),
    )


# -- the two ways to debit -------------------------------------------------------------------


def tables() -> tuple[str, str]:
    from quickscale.credits.models import CreditAccount, CreditTransaction

    return CreditAccount._meta.db_table, CreditTransaction._meta.db_table


def baseline_debit(owner_id: int, *, prepared: bool = False) -> Decimal:
    """The least a debit of 1 credit needs, through Django's transaction and cursor; returns
    the new balance. (The API benchmark's bare view runs it too.) ``prepared``: the same SQL
    as prepared statements, on the cursor the ledger's own hot statements use."""
    from django.db import connection, transaction
    from django.utils import timezone

    from quickscale.core.db import prepared_cursor

    accounts, entries = tables()
    with (
        transaction.atomic(),
        prepared_cursor(connection) if prepared else connection.cursor() as cursor,
    ):
        now = timezone.now()
        cursor.execute(
            f"UPDATE {accounts} SET balance = balance - %s, updated_at = %s "
            "WHERE owner_id = %s AND balance - held >= %s RETURNING id, balance, held",
            [ONE, now, owner_id, ONE],
        )
        row = cursor.fetchone()
        if row is None:
            raise BenchmarkError("the benchmark account ran out of credits")
        account_id, balance_after, held_after = row
        cursor.execute(
            f"INSERT INTO {entries} (account_id, kind, amount, held_delta, balance_after, "
            "held_after, allocations, reason, reference, metadata, request_digest, created_at) "
            "VALUES (%s, 'debit', %s, 0, %s, %s, '[]'::jsonb, '', '', '{}'::jsonb, '', %s)",
            [account_id, -ONE, balance_after, held_after, now],
        )
    return balance_after


def single_statement_debit(owner_id: int) -> Decimal:
    """A reference, not the target's baseline: the same two writes as ONE statement (a
    data-modifying ``WITH``) in autocommit, one round trip; how ``ledger.debit`` writes on
    PostgreSQL, without its Python."""
    from django.db import connection
    from django.utils import timezone

    accounts, entries = tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH a AS (UPDATE {accounts} SET balance = balance - %(one)s, updated_at = %(now)s "
            "WHERE owner_id = %(owner)s AND balance - held >= %(one)s "
            "RETURNING id, balance, held), "
            f"e AS (INSERT INTO {entries} (account_id, kind, amount, held_delta, balance_after, "
            "held_after, allocations, reason, reference, metadata, request_digest, created_at) "
            "SELECT id, 'debit', -%(one)s, 0, balance, held, '[]'::jsonb, '', '', '{}'::jsonb, "
            "'', %(now)s FROM a RETURNING id) SELECT a.balance FROM a, e",
            {"one": ONE, "now": timezone.now(), "owner": owner_id},
        )
        row = cursor.fetchone()
    if row is None:
        raise BenchmarkError("the benchmark account ran out of credits")
    return row[0]


def operation(mode: str, owner_id: int) -> Callable[[], object]:
    if mode == "baseline":
        return lambda: baseline_debit(owner_id)
    if mode == "single":
        return lambda: single_statement_debit(owner_id)
    from django.contrib.auth import get_user_model

    from quickscale.credits import ledger

    user = get_user_model().objects.get(pk=owner_id)
    return lambda: ledger.debit(user, ONE)


# -- worker processes ------------------------------------------------------------------------


def worker(url: str, commands: Any, results: Any) -> None:
    """A worker process: set up Django, then run each command it is sent.

    A command is ``(mode, owner_id, start_at, warmup, seconds)``: from the wall-clock time
    ``start_at`` it debits in a loop, counting the operations that finish in the measured
    window after the warm-up, and reports the count.
    """
    try:
        setup_django(url)
        from django.db import connection

        connection.ensure_connection()
        results.put(("ready", None))
        while (command := commands.get()) is not None:
            mode, owner_id, start_at, warmup, seconds = command
            run = operation(mode, owner_id)
            begin, end = start_at + warmup, start_at + warmup + seconds
            while time.time() < start_at:
                time.sleep(0.001)
            count = 0
            while True:
                run()
                now = time.time()
                if now >= end:
                    break
                if now >= begin:
                    count += 1
            results.put(("count", count))
        connection.close()
    except BaseException:  # report anything: a parent waiting forever is worse
        results.put(("error", traceback.format_exc()))
        raise


class Pool:
    """Worker processes (spawned, so each has its own interpreter and connection)."""

    def __init__(self, url: str, size: int, target: Callable[..., None] = worker) -> None:
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        self.commands = [context.Queue() for _ in range(size)]
        self.processes = [
            context.Process(target=target, args=(url, commands, self.results), daemon=True)
            for commands in self.commands
        ]
        for process in self.processes:
            process.start()
        self.collect(size, "ready", timeout=120)

    def collect(self, count: int, kind: str, *, timeout: float) -> list[Any]:
        values = []
        deadline = time.time() + timeout
        while len(values) < count:
            try:
                got, value = self.results.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                raise BenchmarkError(f"workers did not answer within {timeout:.0f} s") from None
            if got == "error":
                raise BenchmarkError(f"a worker failed:\n{value}")
            if got == kind:
                values.append(value)
        return values

    def run(self, mode: str, owner_id: int, workers: int, warmup: float, seconds: float) -> float:
        """Debits per second of ``workers`` processes on one account."""
        start_at = time.time() + 0.3
        for commands in self.commands[:workers]:
            commands.put((mode, owner_id, start_at, warmup, seconds))
        counts = self.collect(workers, "count", timeout=warmup + seconds + 60)
        return sum(counts) / seconds

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# -- the measurements ------------------------------------------------------------------------


def new_owner(name: str) -> Any:
    """A user whose account holds one grant of ``GRANT`` credits that never expires."""
    from django.contrib.auth import get_user_model

    from quickscale.credits import ledger

    user = get_user_model().objects.create(username=name)
    ledger.grant(user, GRANT, source="admin", expires_at=None)
    return user


def vacuum() -> None:
    """Clear the previous run's dead row versions so runs start alike."""
    from django.db import connection

    from quickscale.credits.models import CreditAccount, CreditGrant

    with connection.cursor() as cursor:
        for model in (CreditAccount, CreditGrant):
            cursor.execute(f"VACUUM {model._meta.db_table}")


@dataclass
class DebitResult:
    workers: int
    ours: list[float]
    baseline: list[float]
    single: list[float]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios (each round's pair ran back to back)."""
        return median([ours / base for ours, base in zip(self.ours, self.baseline, strict=True)])

    @property
    def single_ratio(self) -> float:
        return median([ours / base for ours, base in zip(self.ours, self.single, strict=True)])


def measure_debits(url: str, options: Options) -> list[DebitResult]:
    results = {count: DebitResult(count, [], [], []) for count in options.workers}
    pool = Pool(url, max(options.workers))
    try:
        for number in range(options.rounds):
            for count in options.workers:
                modes = MODES if (number + count) % 2 == 0 else MODES[::-1]
                for mode in modes:
                    owner = new_owner(f"debit-{mode}-{count}-{number}")
                    vacuum()
                    rate = pool.run(mode, owner.pk, count, options.warmup, options.seconds)
                    getattr(results[count], mode).append(rate)
                    print(
                        f"  round {number + 1}/{options.rounds}: {count:>2} worker(s), "
                        f"{mode:<8} {rate:>8,.0f} debits/s",
                        flush=True,
                    )
    finally:
        pool.close()
    check_ledger()
    return list(results.values())


def check_ledger() -> None:
    """The debits left a consistent ledger (a benchmark of wrong code proves nothing)."""
    from quickscale.credits import ledger
    from quickscale.credits.models import CreditAccount

    ours = CreditAccount.objects.filter(owner__username__startswith="debit-ours-")
    problems = [problem for account in ours for problem in ledger.verify(account.owner)]
    if problems:
        raise BenchmarkError(f"the ledger is inconsistent after the debits: {problems[:5]}")


def fill_ledger(owner: Any, rows: int) -> None:
    """Give ``owner`` a ledger of ``rows`` entries: one grant, then ``rows - 1`` debits of 1.

    The debits are written by one ``INSERT ... SELECT generate_series`` and the stored balance
    and grant are set to match, so the account stays consistent (``ledger.verify`` passes).
    """
    from django.db import connection, transaction

    from quickscale.credits.models import CreditAccount, CreditGrant

    accounts, entries = tables()
    grants = CreditGrant._meta.db_table
    account = CreditAccount.objects.get(owner=owner)
    grant_id = CreditGrant.objects.get(account=account).pk
    debits = rows - 1
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {entries} (account_id, kind, amount, held_delta, balance_after, "
            "held_after, allocations, reason, reference, metadata, request_digest, created_at) "
            "SELECT %(account)s, 'debit', -1, 0, %(grant)s - n, 0, "
            "jsonb_build_array(jsonb_build_array(%(grant_id)s, '-1.00')), '', '', '{}'::jsonb, "
            "'', now() FROM generate_series(1, %(debits)s) AS n",
            {"account": account.pk, "grant": GRANT, "grant_id": grant_id, "debits": debits},
        )
        cursor.execute(
            f"UPDATE {accounts} SET balance = balance - %s WHERE id = %s", [debits, account.pk]
        )
        cursor.execute(
            f"UPDATE {grants} SET remaining = remaining - %s WHERE id = %s", [debits, grant_id]
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {entries}")
        cursor.execute(f"ANALYZE {accounts}")
        cursor.execute(f"ANALYZE {grants}")


@dataclass
class ReadResult:
    rows: int
    ours: list[float]
    raw: list[float]


def measure_reads(options: Options) -> list[ReadResult]:
    from django.db import connection

    from quickscale.credits import ledger

    accounts, _ = tables()
    owners = {}
    for rows in (options.small_rows, options.big_rows):
        owner = new_owner(f"read-{rows}")
        started = time.perf_counter()
        fill_ledger(owner, rows)
        print(f"  wrote {rows:,} ledger entries in {time.perf_counter() - started:.1f} s")
        owners[rows] = owner
    # ledger.verify reads every entry in Python: fine for the small account only.
    problems = ledger.verify(owners[options.small_rows])
    if problems:
        raise BenchmarkError(f"the filled ledger is inconsistent: {problems[:5]}")

    def raw_read(owner_id: int) -> Callable[[], object]:
        def read() -> object:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT balance, held FROM {accounts} WHERE owner_id = %s", [owner_id]
                )
                return cursor.fetchone()

        return read

    functions: list[Callable[[], object]] = []
    for owner in owners.values():
        functions.append(lambda owner=owner: ledger.balance(owner))
        functions.append(raw_read(owner.pk))
    timings = time_interleaved(functions, options.reads, warmup=min(200, options.reads))
    return [
        ReadResult(rows, timings[2 * index], timings[2 * index + 1])
        for index, rows in enumerate(owners)
    ]


# -- the report ------------------------------------------------------------------------------


def report(debits: list[DebitResult], reads: list[ReadResult], options: Options) -> None:
    print()
    print(
        f"Debits per second on one account (median of {options.rounds} round(s) of "
        f"{options.seconds:g} s after {options.warmup:g} s warm-up)"
    )
    print(
        table(
            [
                "workers",
                "ledger.debit",
                "raw SQL baseline",
                "ours/baseline",
                "target",
                "status",
                "one-statement SQL",
                "ours/one-statement",
            ],
            [
                [
                    result.workers,
                    f"{median(result.ours):,.0f}",
                    f"{median(result.baseline):,.0f}",
                    f"{result.ratio:.2f}",
                    f">= {DEBIT_TARGET}",
                    verdict(result.ratio, DEBIT_TARGET, at_least=True),
                    f"{median(result.single):,.0f}",
                    f"{result.single_ratio:.2f}",
                ]
                for result in debits
            ],
        )
    )
    print()
    print(f"Balance read time in ms (median and 95th percentile of {options.reads} reads each)")
    print(
        table(
            ["ledger entries", "ledger.balance", "p95", "raw SELECT", "p95"],
            [
                [
                    f"{result.rows:,}",
                    f"{median(result.ours) * 1000:.3f}",
                    f"{percentile(result.ours, 0.95) * 1000:.3f}",
                    f"{median(result.raw) * 1000:.3f}",
                    f"{percentile(result.raw, 0.95) * 1000:.3f}",
                ]
                for result in reads
            ],
        )
    )
    small, big = reads[0], reads[-1]
    read_ratio = median(big.ours) / median(small.ours)
    print()
    for result in debits:
        print(
            f"debit ratio ours/baseline at {result.workers} worker(s): {result.ratio:.2f} "
            f"(target >= {DEBIT_TARGET}: {verdict(result.ratio, DEBIT_TARGET, at_least=True)})"
        )
    print(
        f"balance read ratio big/small ({big.rows:,} vs {small.rows:,} entries): "
        f"{read_ratio:.2f} (target <= {READ_TARGET}: "
        f"{verdict(read_ratio, READ_TARGET, at_least=False)})"
    )
    if options.quick:
        print("(quick run: the figures are not meaningful)")


def describe() -> str:
    """What was measured: the versions, the CPUs and which ledger code (it changes often)."""
    import hashlib
    import os
    import platform

    import django
    from django.db import connection

    from quickscale.credits import ledger

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    with open(ledger.__file__, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()[:12]
    return (
        f"PostgreSQL {server.split()[0]}, Django {django.get_version()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"ledger.py sha256 {digest}"
    )


def main(argv: Sequence[str]) -> int:
    options = parse(argv)
    started = time.perf_counter()
    try:
        with bench_database() as url:
            setup_django(url)
            migrate()
            print(describe(), flush=True)
            print(f"debits: workers {', '.join(map(str, options.workers))}", flush=True)
            debits = measure_debits(url, options)
            print("balance reads:", flush=True)
            reads = measure_reads(options)
            report(debits, reads, options)
    except BenchmarkError as error:
        print(f"ledger benchmark failed: {error}", file=sys.stderr)
        return 1
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

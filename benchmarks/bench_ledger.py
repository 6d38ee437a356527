"""The credit ledger on PostgreSQL: debits per second against pgbench, and balance reads.

1. Debits per second of ``ledger.debit(owner_id, Decimal("1"))`` in worker processes, on ONE
   hot account (1 and 16 workers) and spread over 10,000 accounts (1, 4 and 16 workers, each
   picking a random account for every debit), against two references doing the same work, in
   the same run and on the same tables: the debit of ``benchmarks/ledger_debit.sql`` (the
   conditional ``UPDATE`` of the account, ``balance - held >= 1``, and the ``INSERT`` of its
   ledger entry, joined in ONE data-modifying ``WITH`` statement) sent from the same Django
   processes as a prepared statement, and ``pgbench -M prepared`` running that script with as
   many clients. Ratios to both are printed. Targets, ours / pgbench: >= 0.7 at 1 worker (one
   account and spread), >= 0.4 spread over the 10,000 accounts at 16 workers; a missed target
   prints ``NOT met`` (the exit code says only whether the benchmark ran). The CPU time each
   debit cost the worker processes (and, where ``/proc`` shows it, their PostgreSQL backends)
   is printed next to the rates. Diagnostics, not targets: on the hot account the old
   baseline also runs (``BEGIN``, ``UPDATE``, ``INSERT``, ``COMMIT`` unprepared: four round
   trips, the row lock held across three), and the statements and round trips one debit of
   each mode sends are counted.
2. ``ledger.balance(user)`` for an account with 100 ledger entries and one with 1,000,000,
   timed alternately; the figures are medians. Target: big / small <= 1.5.

``python -m benchmarks ledger [--seconds S] [--rounds N] [--workers 1,16]
[--spread-workers 1,4,16] [--accounts N] [--pgbench PATH] [--quick]``
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import queue
import random
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BenchmarkError,
    base_arguments,
    bench_database,
    code_digest,
    find_pgbench,
    median,
    migrate,
    percentile,
    process_cpu,
    run_pgbench,
    script_statement,
    setup_django,
    table,
    time_interleaved,
    verdict,
    with_placeholders,
)

#: ours / pgbench, at least, by (scenario, workers); other configurations have no target.
DEBIT_TARGETS = {("hot", 1): 0.7, ("spread", 1): 0.7, ("spread", 16): 0.4}
READ_TARGET = 1.5  # big / small, at most
GRANT = Decimal(10_000_000)
ONE = Decimal(1)
SCRIPT = Path(__file__).resolve().parent / "ledger_debit.sql"
#: Accounts checked one by one with ``ledger.verify`` after the spread runs (all are summed).
VERIFIED_SAMPLE = 100


@dataclass(frozen=True)
class Mode:
    name: str
    label: str
    #: Measured in the worker processes (pgbench is a process of its own).
    python: bool = True


OURS = Mode("ours", "ledger.debit")
REFERENCE = Mode("reference", "one statement, prepared")
PGBENCH = Mode("pgbench", "pgbench -M prepared", python=False)
FOUR_TRIPS = Mode("four-trips", "4 round trips, unprepared")


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    workers: tuple[int, ...]
    modes: tuple[Mode, ...]


@dataclass(frozen=True)
class Options:
    quick: bool
    seconds: float
    warmup: float
    rounds: int
    workers: tuple[int, ...]
    spread_workers: tuple[int, ...]
    accounts: int
    pgbench: str
    big_rows: int
    small_rows: int
    reads: int

    @property
    def scenarios(self) -> list[Scenario]:
        return [
            Scenario("hot", "one account", self.workers, (OURS, REFERENCE, PGBENCH, FOUR_TRIPS)),
            Scenario(
                "spread",
                f"{self.accounts:,} accounts",
                self.spread_workers,
                (OURS, REFERENCE, PGBENCH),
            ),
        ]


def counts(text: str) -> tuple[int, ...]:
    return tuple(int(number) for number in text.split(",") if number.strip())


def parse(argv: Sequence[str]) -> Options:
    parser = base_arguments("ledger", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--seconds", type=float, help="measured seconds per run (default 4)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per run (default 1)")
    parser.add_argument("--rounds", type=int, help="rounds of every configuration (default 3)")
    parser.add_argument(
        "--workers", help="comma-separated worker counts on one account (default 1,16)"
    )
    parser.add_argument(
        "--spread-workers",
        help="comma-separated worker counts spread over the accounts (default 1,4,16)",
    )
    parser.add_argument(
        "--accounts", type=int, default=10_000, help="accounts of the spread runs (10,000)"
    )
    parser.add_argument(
        "--pgbench", help="the pgbench program (default: $PGBENCH, or pgbench on the PATH)"
    )
    parser.add_argument("--big-rows", type=int, help="entries of the big account (1,000,000)")
    parser.add_argument("--reads", type=int, help="balance reads per account (default 2000)")
    args = parser.parse_args(list(argv))
    quick = args.quick
    if args.accounts < 2:
        parser.error("--accounts must be at least 2")
    return Options(
        quick=quick,
        # pgbench runs whole seconds: a quick run measures 1 s, like pgbench.
        seconds=args.seconds or (1.0 if quick else 4.0),
        warmup=args.warmup if args.warmup is not None else (0.3 if quick else 1.0),
        rounds=args.rounds or 3,
        workers=counts(args.workers or "1,16"),
        spread_workers=counts(args.spread_workers or "1,4,16"),
        accounts=args.accounts,
        pgbench=find_pgbench(args.pgbench),
        big_rows=args.big_rows or (10_000 if quick else 1_000_000),
        small_rows=100,
        reads=args.reads or (100 if quick else 2000),
    )


# -- the ways to debit -----------------------------------------------------------------------


def tables() -> tuple[str, str]:
    from quickscale.credits.models import CreditAccount, CreditTransaction

    return CreditAccount._meta.db_table, CreditTransaction._meta.db_table


@functools.cache
def reference_statement() -> tuple[str, tuple[str, ...]]:
    """``ledger_debit.sql``'s statement with ``%s`` placeholders, and the names of the pgbench
    variables they stand for."""
    statement, names = with_placeholders(script_statement(SCRIPT))
    accounts, entries = tables()
    if f"UPDATE {accounts} " not in statement or f"INSERT INTO {entries} " not in statement:
        raise BenchmarkError(f"{SCRIPT.name} does not write the tables {accounts} and {entries}")
    return statement, tuple(names)


def baseline_debit(owner_id: int, *, prepared: bool = False) -> Decimal:
    """The reference debit of 1 credit, ``ledger_debit.sql``'s one statement, in autocommit;
    returns the new balance. (The API benchmark's bare views run it too.)

    ``prepared``: as a prepared statement, on the cursor the ledger's and the API's own hot
    statements use (``quickscale.core.db.fetch_one``): the best the database can do, so the
    reference of both benchmarks. Without: Django's usual raw SQL, bound on the client and
    parsed and planned by PostgreSQL every time."""
    from django.db import connection

    from quickscale.core.db import fetch_one

    statement, names = reference_statement()
    values = {"owner": owner_id, "amount": ONE}
    params = [values[name] for name in names]
    if prepared:
        row = fetch_one(connection, statement, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            row = cursor.fetchone()
    if row is None:
        raise BenchmarkError("the benchmark account ran out of credits")
    return row[0]


def four_trip_debit(owner_id: int) -> Decimal:
    """A diagnostic, not a reference: the same writes as two unprepared statements in a
    transaction (``BEGIN``, ``UPDATE``, ``INSERT``, ``COMMIT``: four round trips, the
    account's row lock held across three), which the benchmark compared with until it had an
    honest reference."""
    from django.db import connection, transaction

    accounts, entries = tables()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {accounts} SET balance = balance - %s, unallocated = unallocated + %s, "
            "updated_at = now() WHERE owner_id = %s AND balance - held >= %s "
            "RETURNING id, balance, held",
            [ONE, ONE, owner_id, ONE],
        )
        row = cursor.fetchone()
        if row is None:
            raise BenchmarkError("the benchmark account ran out of credits")
        account_id, balance_after, held_after = row
        cursor.execute(
            f"INSERT INTO {entries} (account_id, kind, amount, held_delta, balance_after, "
            "held_after, allocations, reason, reference, metadata, request_digest, created_at) "
            "VALUES (%s, 'debit', %s, 0, %s, %s, '[]', '', '', '{}', '', now())",
            [account_id, -ONE, balance_after, held_after],
        )
    return balance_after


def debit_function(mode: str) -> Callable[[int], object]:
    if mode == REFERENCE.name:
        return lambda owner_id: baseline_debit(owner_id, prepared=True)
    if mode == FOUR_TRIPS.name:
        return four_trip_debit
    if mode != OURS.name:
        raise BenchmarkError(f"unknown mode {mode!r}")
    from quickscale.credits import ledger

    debit = ledger.debit  # the public API only: what an application calls
    return lambda owner_id: debit(owner_id, ONE)


def operation(mode: str, first: int, last: int) -> Callable[[], object]:
    """One debit of ``mode``: of account ``first`` when ``first == last``, else of a random
    account of owners ``first`` to ``last`` (a new pick for every debit)."""
    debit = debit_function(mode)
    if first == last:
        return lambda: debit(first)
    pick = random.Random().randint  # seeded from the system, differently in every worker
    return lambda: debit(pick(first, last))


# -- worker processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerRun:
    debits: int
    seconds: float
    #: CPU seconds of the worker process and of its PostgreSQL backend (``None``: unknown).
    cpu: float
    backend_cpu: float | None


def backend_pid() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def check_prepared() -> None:
    """The reference's statement is prepared on this worker's connection (else it is no
    reference)."""
    from django.db import connection

    _, entries = tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"WITH a AS ( UPDATE % INSERT INTO {entries} %"],
        )
        if not cursor.fetchone()[0]:
            raise BenchmarkError(
                "the reference's statement was not prepared (is "
                "QUICKSCALE_CORE_PREPARED_STATEMENTS off?)"
            )


def worker(url: str, commands: Any, results: Any) -> None:
    """A worker process: set up Django, then run each command it is sent.

    ``("debit", mode, first, last, start_at, warmup, seconds)``: from the wall-clock time
    ``start_at`` debit in a loop for ``warmup`` seconds, then count the debits of the next
    ``seconds`` and the CPU time they took, and report a :class:`WorkerRun`.
    """
    try:
        setup_django(url)
        from django.db import connection

        connection.ensure_connection()
        results.put(("ready", None))
        while (command := commands.get()) is not None:
            _, mode, first, last, start_at, warmup, seconds = command
            run = operation(mode, first, last)
            backend = backend_pid()
            begin, end = start_at + warmup, start_at + warmup + seconds
            while time.time() < start_at:
                time.sleep(0.001)
            while time.time() < begin:
                run()
            started, cpu, backend_cpu = (
                time.perf_counter(),
                time.process_time(),
                process_cpu(backend),
            )
            debits = 0
            while True:
                run()
                debits += 1
                if time.time() >= end:
                    break
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            backend_after = process_cpu(backend)  # in clock ticks (10 ms): summed, they average
            backend_cpu = (
                None
                if backend_cpu is None or backend_after is None
                else backend_after - backend_cpu
            )
            if mode == REFERENCE.name:
                check_prepared()
            results.put(("debits", WorkerRun(debits, elapsed, cpu, backend_cpu)))
        connection.close()
    except BaseException:  # report anything: a parent waiting forever is worse
        results.put(("error", traceback.format_exc()))
        raise


@dataclass(frozen=True)
class Sample:
    """One measurement: debits a second and, per debit, the CPU seconds of the clients (the
    Python workers, or pgbench) and of their PostgreSQL backends (``None``: unknown)."""

    rate: float
    cpu: float
    backend_cpu: float | None


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
        self.collect(size, "ready", timeout=180)

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

    def run(
        self, mode: str, first: int, last: int, workers: int, warmup: float, seconds: float
    ) -> Sample:
        """Debits per second of ``workers`` processes on owners ``first`` to ``last``."""
        start_at = time.time() + 0.3
        for commands in self.commands[:workers]:
            commands.put(("debit", mode, first, last, start_at, warmup, seconds))
        runs: list[WorkerRun] = self.collect(workers, "debits", timeout=warmup + seconds + 60)
        debits = sum(run.debits for run in runs)
        if not debits:
            raise BenchmarkError(f"no {mode} debit finished: use more --seconds")
        backend = [run.backend_cpu for run in runs]
        return Sample(
            rate=sum(run.debits / run.seconds for run in runs),
            cpu=sum(run.cpu for run in runs) / debits,
            backend_cpu=None
            if None in backend
            else sum(value for value in backend if value is not None) / debits,
        )

    def close(self) -> None:
        for commands in self.commands:
            commands.put(None)
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# -- the accounts ----------------------------------------------------------------------------


def grant_to(owner_id: int) -> None:
    from quickscale.credits import ledger

    ledger.grant(owner_id, GRANT, source="admin", expires_at=None)


def new_owner(name: str) -> Any:
    """A user whose account holds one grant of ``GRANT`` credits that never expires."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username=name)
    grant_to(user.pk)
    return user


def spread_owners(count: int) -> tuple[int, int]:
    """``count`` users with consecutive ids (pgbench draws them from a range), each with an
    account holding one grant of ``GRANT``; the first and the last id.

    ``ledger.grant`` writes the first account; the others are copies of its rows (its account,
    grant and entry), since granting 10,000 accounts one by one would take longer than the
    runs. ``check_ledger`` verifies a sample of them afterwards.
    """
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from quickscale.credits.models import CreditAccount, CreditGrant, CreditTransaction

    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [user_model(username=f"spread-{number:06d}") for number in range(count)],
        batch_size=5000,
    )
    ids = sorted(user.pk for user in users)
    if ids[-1] - ids[0] + 1 != count:
        raise BenchmarkError("the spread accounts' owners did not get consecutive ids")
    grant_to(ids[0])
    account = CreditAccount.objects.get(owner_id=ids[0])
    grants = list(CreditGrant.objects.filter(account=account))
    entries = list(CreditTransaction.objects.filter(account=account))
    if (
        len(grants) != 1
        or any(entry.grant_id not in (None, grants[0].pk) for entry in entries)
        or any(entry.allocations or entry.hold_id or entry.refund_of_id for entry in entries)
    ):
        raise BenchmarkError("ledger.grant wrote rows the benchmark does not know how to copy")
    with transaction.atomic():
        accounts = CreditAccount.objects.bulk_create(
            [copy(account, owner_id=owner_id) for owner_id in ids[1:]], batch_size=2000
        )
        copies = CreditGrant.objects.bulk_create(
            [copy(grants[0], account_id=copied.pk) for copied in accounts], batch_size=2000
        )
        CreditTransaction.objects.bulk_create(
            [
                copy(
                    entry,
                    account_id=grant.account_id,
                    grant_id=None if entry.grant_id is None else grant.pk,
                )
                for grant in copies
                for entry in entries
            ],
            batch_size=2000,
        )
    return ids[0], ids[-1]


def copy(row: Any, **changes: Any) -> Any:
    """A new, unsaved model instance with ``row``'s field values and ``changes``."""
    values = {
        field.attname: getattr(row, field.attname)
        for field in type(row)._meta.concrete_fields
        if not field.primary_key
    }
    return type(row)(**{**values, **changes})


def vacuum() -> None:
    """Clear the previous run's dead row versions so runs start alike."""
    from django.db import connection

    from quickscale.credits.models import CreditAccount, CreditGrant

    with connection.cursor() as cursor:
        for model in (CreditAccount, CreditGrant):
            cursor.execute(f"VACUUM {model._meta.db_table}")


def settle() -> None:
    """After the set-up's writes: analyse the tables and write the dirty pages out
    (``CHECKPOINT``, where the role may), so the first runs do not pay for them."""
    from django.db import DatabaseError, connection

    accounts, entries = tables()
    with connection.cursor() as cursor:
        for name in (accounts, entries):
            cursor.execute(f"VACUUM ANALYZE {name}")
        # Not allowed unless a superuser or in pg_checkpoint: the runs start less evenly then.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


# -- the measurements ------------------------------------------------------------------------


@dataclass
class DebitResult:
    scenario: Scenario
    workers: int
    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def rates(self, mode: Mode) -> list[float]:
        return [sample.rate for sample in self.samples.get(mode.name, [])]

    def rate(self, mode: Mode) -> float:
        return median(self.rates(mode))

    def ratio(self, mode: Mode, base: Mode) -> float:
        """The median of the rounds' ratios (each round's runs went back to back)."""
        pairs = zip(self.rates(mode), self.rates(base), strict=True)
        return median([ours / theirs for ours, theirs in pairs])

    def cpu(self, mode: Mode) -> float:
        return median([sample.cpu for sample in self.samples[mode.name]])

    def backend_cpu(self, mode: Mode) -> float | None:
        values = [sample.backend_cpu for sample in self.samples[mode.name]]
        return None if None in values else median([v for v in values if v is not None])

    @property
    def target(self) -> float | None:
        return DEBIT_TARGETS.get((self.scenario.key, self.workers))


def measure_debits(url: str, options: Options) -> list[DebitResult]:
    scenarios = options.scenarios
    results = {
        (scenario.key, count): DebitResult(scenario, count)
        for scenario in scenarios
        for count in scenario.workers
    }
    hot_owners: list[int] = []
    pool = Pool(url, max(count for scenario in scenarios for count in scenario.workers))
    try:
        started = time.perf_counter()
        first, last = spread_owners(options.accounts)
        settle()
        print(
            f"  {options.accounts:,} accounts written in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for number in range(options.rounds):
            for scenario in scenarios:
                for count in scenario.workers:
                    modes = scenario.modes
                    if (number + count) % 2:
                        modes = modes[::-1]
                    for mode in modes:
                        if scenario.key == "hot":
                            owner = new_owner(f"debit-{mode.name}-{count}-{number}").pk
                            hot_owners.append(owner)
                            low, high = owner, owner
                        else:
                            low, high = first, last
                        vacuum()
                        sample = measure_one(pool, options, mode, low, high, count, url)
                        results[scenario.key, count].samples.setdefault(mode.name, []).append(
                            sample
                        )
                        print(
                            f"  round {number + 1}/{options.rounds}: {scenario.label}, "
                            f"{count:>2} worker(s), {mode.label:<26} {sample.rate:>8,.0f} "
                            f"debits/s, {sample.cpu * 1e6:>5,.0f} µs CPU/debit",
                            flush=True,
                        )
    finally:
        pool.close()
    check_ledger(hot_owners, first, last)
    return list(results.values())


def measure_one(
    pool: Pool, options: Options, mode: Mode, low: int, high: int, workers: int, url: str
) -> Sample:
    if mode.python:
        return pool.run(mode.name, low, high, workers, options.warmup, options.seconds)
    variables = {"first_owner": low, "last_owner": high}
    run = run_pgbench(
        options.pgbench, url, SCRIPT, clients=workers, seconds=options.seconds, variables=variables
    )
    started = pgbench_start_cpu(options, url, workers, variables)
    return Sample(
        rate=run.tps, cpu=max(0.0, run.cpu - started) / run.transactions, backend_cpu=None
    )


#: pgbench's start-up CPU seconds, by client count (see ``pgbench_start_cpu``).
PGBENCH_START: dict[int, float] = {}


def pgbench_start_cpu(options: Options, url: str, clients: int, variables: Any) -> float:
    """The CPU seconds pgbench spends starting and connecting ``clients`` clients (measured
    once per count, with one transaction each), which its CPU time per debit leaves out."""
    if clients not in PGBENCH_START:
        PGBENCH_START[clients] = run_pgbench(
            options.pgbench,
            url,
            SCRIPT,
            clients=clients,
            seconds=0,
            variables=variables,
            transactions=1,
        ).cpu
    return PGBENCH_START[clients]


def check_ledger(hot_owners: Sequence[int], first: int, last: int) -> None:
    """The debits of every mode left consistent accounts (a benchmark of wrong code proves
    nothing, and a reference that skips part of the work is no reference): ``ledger.verify``
    of every hot account and of a sample of the spread ones, and every spread account's
    stored balance equal to the sum of its entries."""
    from django.db import connection

    from quickscale.credits import ledger

    accounts, entries = tables()
    sample = random.Random(0).sample(range(first, last + 1), min(VERIFIED_SAMPLE, last - first + 1))
    problems = [
        problem for owner_id in [*hot_owners, *sample] for problem in ledger.verify(owner_id)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {accounts} a WHERE a.owner_id BETWEEN %s AND %s AND "
            f"a.balance <> (SELECT sum(e.amount) FROM {entries} e WHERE e.account_id = a.id)",
            [first, last],
        )
        (unbalanced,) = cursor.fetchone()
    if unbalanced:
        problems.append(f"{unbalanced} spread account(s) do not add up")
    if problems:
        raise BenchmarkError(f"the ledger is inconsistent after the debits: {problems[:5]}")


@dataclass(frozen=True)
class Trips:
    statements: float
    round_trips: float


def count_trips(debits: int = 20) -> dict[str, Trips]:
    """A diagnostic: the statements one debit of each Python mode sends through Django's
    cursors, and its round trips (a statement inside a transaction adds its ``BEGIN`` and
    ``COMMIT``), in this process, after a warm-up."""
    from django.db import connection

    found: dict[str, Trips] = {}
    for mode in (OURS, REFERENCE, FOUR_TRIPS):
        owner = new_owner(f"trips-{mode.name}").pk
        debit = operation(mode.name, owner, owner)
        for _ in range(3):
            debit()
        seen: list[bool] = []

        def count(
            execute: Any, sql: Any, params: Any, many: Any, context: Any, seen: list[bool] = seen
        ) -> Any:
            seen.append(connection.in_atomic_block)
            return execute(sql, params, many, context)

        transactions = 0
        with connection.execute_wrapper(count):
            for _ in range(debits):
                before = len(seen)
                debit()
                transactions += any(seen[before:])
        found[mode.name] = Trips(len(seen) / debits, (len(seen) + 2 * transactions) / debits)
    return found


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


def micro(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e6:,.0f}"


def report(
    debits: list[DebitResult], trips: dict[str, Trips], reads: list[ReadResult], options: Options
) -> None:
    print()
    print(
        f"Debits per second (median of {options.rounds} round(s) of {options.seconds:g} s; the "
        f"Python workers after {options.warmup:g} s warm-up, pgbench from its start)"
    )
    print(
        table(
            [
                "accounts",
                "workers",
                OURS.label,
                REFERENCE.label,
                PGBENCH.label,
                "ours/one-statement",
                "ours/pgbench",
                "target",
                "status",
                "one-statement/pgbench",
            ],
            [
                [
                    result.scenario.label,
                    result.workers,
                    f"{result.rate(OURS):,.0f}",
                    f"{result.rate(REFERENCE):,.0f}",
                    f"{result.rate(PGBENCH):,.0f}",
                    f"{result.ratio(OURS, REFERENCE):.2f}",
                    f"{result.ratio(OURS, PGBENCH):.2f}",
                    "-" if result.target is None else f">= {result.target}",
                    "-"
                    if result.target is None
                    else verdict(result.ratio(OURS, PGBENCH), result.target, at_least=True),
                    f"{result.ratio(REFERENCE, PGBENCH):.2f}",
                ]
                for result in debits
            ],
        )
    )
    print()
    print(
        "CPU time per debit in µs (median of the rounds): the client processes (the Python "
        "workers, or pgbench) and their PostgreSQL backends"
    )
    print(
        table(
            [
                "accounts",
                "workers",
                "ledger.debit",
                "its backend",
                "one statement",
                "its backend",
                "pgbench",
            ],
            [
                [
                    result.scenario.label,
                    result.workers,
                    micro(result.cpu(OURS)),
                    micro(result.backend_cpu(OURS)),
                    micro(result.cpu(REFERENCE)),
                    micro(result.backend_cpu(REFERENCE)),
                    micro(result.cpu(PGBENCH)),
                ]
                for result in debits
            ],
        )
    )
    diagnostic = [result for result in debits if FOUR_TRIPS.name in result.samples]
    if diagnostic:
        print()
        print(
            "Diagnostic: the old baseline, BEGIN + UPDATE + INSERT + COMMIT unprepared "
            "(not a reference)"
        )
        print(
            table(
                ["accounts", "workers", "debits/s", "CPU µs/debit", "ours/it", "one-statement/it"],
                [
                    [
                        result.scenario.label,
                        result.workers,
                        f"{result.rate(FOUR_TRIPS):,.0f}",
                        micro(result.cpu(FOUR_TRIPS)),
                        f"{result.ratio(OURS, FOUR_TRIPS):.2f}",
                        f"{result.ratio(REFERENCE, FOUR_TRIPS):.2f}",
                    ]
                    for result in diagnostic
                ],
            )
        )
    print()
    print("Diagnostic: what one debit sends (Django's cursors, 20 debits after a warm-up)")
    print(
        table(
            ["mode", "statements", "round trips"],
            [
                [
                    mode.label,
                    f"{trips[mode.name].statements:g}",
                    f"{trips[mode.name].round_trips:g}",
                ]
                for mode in (OURS, REFERENCE, FOUR_TRIPS)
            ]
            + [[PGBENCH.label, "1", "1"]],
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
        where = result.scenario.label
        print(
            f"debit ratio ours/baseline at {result.workers} worker(s): "
            f"{result.ratio(OURS, REFERENCE):.2f} ({where}; baseline: {REFERENCE.label}; "
            f"{micro(result.cpu(OURS))} µs CPU/debit in ours, "
            f"{micro(result.cpu(REFERENCE))} in the baseline)"
        )
        ratio = result.ratio(OURS, PGBENCH)
        target = result.target
        status = (
            "no target"
            if target is None
            else f"target >= {target}: {verdict(ratio, target, at_least=True)}"
        )
        print(
            f"debit ratio ours/pgbench at {result.workers} worker(s): {ratio:.2f} "
            f"({where}; {status})"
        )
    print(
        f"balance read ratio big/small ({big.rows:,} vs {small.rows:,} entries): "
        f"{read_ratio:.2f} (target <= {READ_TARGET}: "
        f"{verdict(read_ratio, READ_TARGET, at_least=False)})"
    )
    if options.quick:
        print("(quick run: short runs; the figures are indicative only)")


def describe(options: Options) -> str:
    """What was measured: the versions, the CPUs and which ledger code (it changes often)."""
    import os
    import platform
    import subprocess

    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server,) = cursor.fetchone()
    pgbench = subprocess.run(
        [options.pgbench, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (
        f"PostgreSQL {server.split()[0]}, Django {django.get_version()}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU(s), {pgbench or 'pgbench'}, "
        f"ledger sha256 {code_digest('quickscale.credits.ledger', 'quickscale.core.db')}"
    )


def main(argv: Sequence[str]) -> int:
    try:
        options = parse(argv)
    except BenchmarkError as error:
        print(f"ledger benchmark failed: {error}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        with bench_database() as url:
            setup_django(url)
            migrate()
            reference_statement()  # the script names the tables of this project
            print(describe(options), flush=True)
            print(
                "debits: workers "
                + "; ".join(
                    f"{scenario.label}: {', '.join(map(str, scenario.workers))}"
                    for scenario in options.scenarios
                ),
                flush=True,
            )
            debits = measure_debits(url, options)
            trips = count_trips()
            print("balance reads:", flush=True)
            reads = measure_reads(options)
            report(debits, trips, reads, options)
    except BenchmarkError as error:
        print(f"ledger benchmark failed: {error}", file=sys.stderr)
        return 1
    print(f"(ran in {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The harness itself: start the stack, run each phase with load, settle, check, report.

A phase runs the load for its time and injects its fault part-way (:mod:`faults.phases`).
When the load stops, the harness waits for the sweep to pass (a ``Swept:`` line in its log
written after the load) and for every run, hold and webhook event to be finished, up to the
services' timeout plus the sweep's grace of a minute after the fault; then the probe reads the
facts and :mod:`faults.checks` judges them with everything the clients were answered.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from faults import checks
from faults.checks import Window, clock
from faults.cluster import (
    Config,
    PgBouncer,
    Postgres,
    Probe,
    Redis,
    Site,
    Supervisor,
    manage,
)
from faults.load import Customer, Load, Recorder

#: The sweep's grace (``quickscale.services.execution.HOLD_GRACE``): a run whose process died
#: is failed once it started more than its timeout plus this long ago.
SWEEP_GRACE = 60
SWEEP_EVERY = 5
#: Seconds an outage window lasts after the fault's recovery.
AFTERMATH = 5
#: The project's default for ``QUICKSCALE_SERVICES_DEFAULT_TIMEOUT``.
DEFAULT_TIMEOUT = 60
SEED_CREDITS = Decimal("10000")
PASSWORD = "fault-harness-password-1"  # noqa: S105 (throw-away users)


def say(text: str = "") -> None:
    print(text, flush=True)


@dataclass
class Mode:
    """How long things take: ``--short`` or the default."""

    short: bool
    customers: int
    rate: float
    threads: int
    purchase_every: float
    services_timeout: int | None

    @classmethod
    def choose(cls, short: bool, customers: int | None = None) -> Mode:
        if short:
            return cls(True, customers or 8, 20, 6, 3.0, 10)
        return cls(False, customers or 8, 25, 8, 4.0, None)

    @property
    def timeout(self) -> int:
        return self.services_timeout or DEFAULT_TIMEOUT

    @property
    def interrupted_run_limit(self) -> float:
        """How long after a fault a run it interrupted may stay open: its timeout plus the
        grace, plus two sweeps and a margin."""
        return self.timeout + SWEEP_GRACE + 2 * SWEEP_EVERY + 10


@dataclass
class PhaseState:
    """What a phase's fault did: its outage windows, what it wants reported, the runs it
    interrupted on purpose, when it happened."""

    windows: list[Window] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    interrupted: list[int] = field(default_factory=list)
    #: Runs started before the fault and still open after it: the load goes on until the
    #: sweep has finished them (at most the services' timeout plus the grace).
    watched: list[int] = field(default_factory=list)
    fault_at: float | None = None
    fault_end: float | None = None

    def outage(self, start: float, recovered: float, label: str) -> None:
        self.windows.append(Window(start, recovered + AFTERMATH, label))


@dataclass
class Result:
    name: str
    fault: str
    figures: checks.Figures
    problems: list[str]
    notes: list[str]
    windows: list[Window]
    by_kind: dict[str, checks.Figures]


class Harness:
    def __init__(self, root: Path, mode: Mode) -> None:
        self.root = root
        self.mode = mode
        self.supervisor = Supervisor()
        self.postgres = Postgres(root)
        self.redis = Redis(root)
        self.pgbouncer: PgBouncer | None = None
        self.config = Config(
            root=root,
            database_url=self.postgres.url(),
            redis_url=self.redis.url,
            secret_key=secrets.token_urlsafe(50),
            services_timeout=mode.services_timeout,
        )
        self.site: Site | None = None
        self.probe: Probe | None = None
        self.recorder = Recorder()
        self.customers: list[Customer] = []
        self.packs: list[str] = []
        self.webhook_secret = ""
        self.redelivered: set[str] = set()
        #: Run id -> the phase after which it was first found open.
        self.left_open: dict[int, str] = {}
        self.rng = random.Random(20240601)  # noqa: S311 (a load, not a secret)

    # --- the stack -------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self.postgres.create()
        say(f"PostgreSQL 15 on 127.0.0.1:{self.postgres.port} ({self.postgres.dir})")
        self.redis.start()
        say(f"Redis on 127.0.0.1:{self.redis.port}")
        self.supervisor.start()
        env = self.config.env()
        manage("demo", "--no-serve", "-v", "0", env=env)
        say("migrated; demo catalog and staff added (manage.py demo --no-serve)")
        self.probe = Probe(self.config)
        emails = [f"load{n}@faults.example.com" for n in range(1, self.mode.customers + 1)]
        seeded = self.probe.ask("seed", emails=emails, password=PASSWORD, credits=str(SEED_CREDITS))
        self.customers = [Customer(c["email"], c["token"], PASSWORD) for c in seeded["customers"]]
        self.packs = [pack["price"] for pack in seeded["packs"]]
        self.webhook_secret = seeded["webhook_secret"]
        if not self.packs:
            raise RuntimeError("the demo catalog has no pack on sale")
        say(
            f"{len(self.customers)} customers with {SEED_CREDITS} credits and an API key each; "
            f"packs {', '.join(self.packs)}"
        )
        self.site = Site(self.config, self.supervisor)
        self.site.start()
        say(
            f"site at {self.site.url}: gunicorn (4 sync workers, pids {self.site.web_workers()}), "
            f"2 task workers, the sweep every {SWEEP_EVERY} s; "
            f"ready in {time.monotonic() - started:.0f} s"
        )

    def close(self) -> None:
        self.supervisor.stopping.set()
        if self.site is not None:
            self.site.stop()
        if self.probe is not None:
            self.probe.close()
        if self.pgbouncer is not None:
            self.pgbouncer.stop()
        self.redis.stop()
        self.postgres.stop()

    def switch_to_pgbouncer(self) -> None:
        """Serve through PgBouncer in transaction mode: the web, the task workers and the
        sweep start again connected to it, with the settings deployment.md asks for."""
        assert self.site is not None
        port = self.site.port
        self.site.stop()
        self.pgbouncer = PgBouncer(self.root, self.postgres)
        self.pgbouncer.start()
        self.config = Config(
            root=self.root,
            database_url=self.pgbouncer.url,
            redis_url=self.redis.url,
            secret_key=self.config.secret_key,
            services_timeout=self.config.services_timeout,
            pooler="pgbouncer-transaction",
        )
        self.site = Site(self.config, self.supervisor, generation=1, port=port)
        self.site.start()

    # --- phases ----------------------------------------------------------------------------

    def load(self) -> Load:
        assert self.site is not None
        return Load(
            port=self.site.port,
            customers=self.customers,
            packs=self.packs,
            webhook_secret=self.webhook_secret,
            recorder=self.recorder,
            rate=self.mode.rate,
            threads=self.mode.threads,
            purchase_every=self.mode.purchase_every,
            seed=self.rng.randrange(2**32),
        )

    def deliveries(self) -> list[dict[str, Any]]:
        """Every stored event not delivered again yet, twice, shuffled."""
        assert self.probe is not None
        events = self.probe.ask("events", exclude=sorted(self.redelivered))
        self.redelivered.update(event["id"] for event in events)
        twice = events + events
        self.rng.shuffle(twice)
        return twice

    def run_phase(self, number: int, total: int, phase: Any) -> Result:
        say(f"\n== {number}/{total} {phase.name}: {phase.fault}")
        restarts = len(self.supervisor.restarts)
        state = PhaseState()
        if phase.prepare is not None:
            phase.prepare(self, state)
        deliveries = self.deliveries()
        start = time.time()
        load = self.load()
        longest = phase.seconds
        if phase.inject is not None:
            longest = phase.at + self.mode.interrupted_run_limit + 15
        load.start(start + longest, deliveries)
        if phase.inject is not None:
            time.sleep(max(0.0, start + phase.at - time.time()))
            state.fault_at = time.time()
            phase.inject(self, state)
            state.fault_end = time.time()
            time.sleep(3)  # what was in flight finishes
            state.watched = self.probe.ask("open_runs", before=state.fault_at)
            if state.watched:
                state.notes.append(
                    f"run(s) {state.watched} started before the fault were still open 3 s "
                    "after it: the load goes on until the sweep finishes them"
                )
        while load.alive():
            if time.time() - start >= phase.seconds and not self._still_open(
                state.watched + state.interrupted
            ):
                load.stop()
            time.sleep(1)
        load.join()
        end = time.time()
        settle_problems = self.settle(end, state)
        for restart in self.supervisor.restarts[restarts:]:
            state.notes.append(
                f"{restart.name} exited ({restart.returncode}) at {clock(restart.at)} and was "
                "started again by the supervisor"
            )
        return self.check(phase, state, start, end, settle_problems)

    def _still_open(self, runs: list[int]) -> bool:
        assert self.probe is not None
        return bool(runs) and bool(set(runs) & set(self.probe.ask("pending")["open_runs"]))

    def settle(self, end: float, state: PhaseState) -> list[str]:
        """Wait for a sweep pass after the load, and for nothing to be left open."""
        assert self.site is not None
        assert self.probe is not None
        problems = []
        sweep = self.site.sweep
        offset = sweep.log_size() if sweep.log.exists() else 0
        # The sweep's log position when the load stopped: a pass must start after it.
        deadline = time.time() + 3 * SWEEP_EVERY + 10
        while "Swept:" not in sweep.log_since(offset) and time.time() < deadline:
            time.sleep(0.5)
        swept = "Swept:" in sweep.log_since(offset)
        if not swept:
            problems.append(
                f"the sweep did not finish a pass within {3 * SWEEP_EVERY + 10} s after the "
                f"load; its log since: {sweep.log_since(offset)[-1500:]!r}"
            )
        limit = end + 60  # what the load queued last is worked off
        if state.fault_end is not None:
            limit = max(limit, state.fault_end + self.mode.interrupted_run_limit)
        while True:
            pending = self.probe.ask("pending")
            if not (
                pending["open_runs"] or pending["active_holds"] or pending["unfinished_events"]
            ):
                break
            if time.time() > limit or not swept:
                break  # judged with the facts below: no sweep will finish them
            time.sleep(2)
        state.notes.append(f"settled {time.time() - end:.0f} s after the load stopped")
        return problems

    def check(
        self, phase: Any, state: PhaseState, start: float, end: float, problems: list[str]
    ) -> Result:
        assert self.probe is not None
        samples = self.recorder.samples_between(start, end + 1)
        verified = self.probe.ask("verify")
        facts = self.probe.ask("facts", emails=[c.email for c in self.customers])
        problems = list(problems) + state.problems
        problems += checks.judge_statuses(samples, state.windows)
        problems += checks.judge_verify(verified)
        problems += checks.judge_settled(facts)
        problems += checks.judge_ledger(facts, seed_credits=SEED_CREDITS)
        problems += checks.judge_payments(facts, paid_sessions=self.recorder.paid_sessions)
        problems += checks.judge_runs(
            facts, succeeded=self.recorder.succeeded, keys=self.recorder.keys
        )
        with self.recorder.lock:
            replays = [r for r in self.recorder.replays]
        problems += checks.judge_replays(replays)
        problems += self._interrupted_runs(state, facts)
        earlier = sorted(
            {self.left_open[r["id"]] for r in facts["open_runs"] if r["id"] in self.left_open}
        )
        if earlier:
            state.notes.append(f"some runs open now were already open after {', '.join(earlier)}")
        for run in facts["open_runs"]:
            self.left_open.setdefault(run["id"], phase.name)
        refused = Counter(s.detail or "?" for s in samples if s.status == 503)
        if refused:
            state.notes.append(
                "answers of 503: " + ", ".join(f"{what} x{n}" for what, n in refused.most_common())
            )
        figures = checks.figures(samples, end - start)
        groups: dict[str, list[checks.Sample]] = {}
        for sample in samples:
            groups.setdefault(group_of(sample.kind), []).append(sample)
        by_kind = {name: checks.figures(group, end - start) for name, group in groups.items()}
        result = Result(
            phase.name, phase.fault, figures, problems, state.notes, state.windows, by_kind
        )
        self.report(result, verified, facts)
        return result

    def _interrupted_runs(self, state: PhaseState, facts: dict[str, Any]) -> list[str]:
        problems = []
        for run in state.interrupted:
            stored = facts["runs"].get(str(run))
            if stored is None or stored[0] != "failed" or Decimal(stored[1] or 0) != 0:
                problems.append(f"interrupted run {run} should be failed at no cost, is {stored}")
        if state.interrupted:
            state.notes.append(
                f"interrupted run(s) {state.interrupted} failed by the sweep at no cost"
                if not problems
                else "interrupted run(s) not finished right"
            )
        return problems

    def report(self, result: Result, verified: dict[str, Any], facts: dict[str, Any]) -> None:
        f = result.figures
        say(f"   {f.line()}")
        say(f"   statuses: {f.status_line()}")
        for name, group in sorted(result.by_kind.items()):
            say(f"     {name:<10} {group.line()}; {group.status_line()}")
        for window in result.windows:
            say(f"   outage window {clock(window.start)}-{clock(window.end)}: {window.label}")
        for note in result.notes:
            say(f"   note: {note}")
        customers = facts["customers"]
        runs = sum(sum(c["runs"].values()) for c in customers.values())
        paid = sum(1 for p in facts["payments"] if p["status"] == "paid")
        say(
            f"   database: {len(facts['open_runs'])} runs open, {facts['active_holds']} holds "
            f"active, {len(facts['unfinished_events'])} events unfinished; {runs} runs of the "
            f"load's customers; {paid} paid payments, {len(facts['doubled_grants'])} granted "
            f"twice; events {facts['events']}; audit events {verified['audit_events']}"
        )
        if result.problems:
            say(f"   FAIL: {len(result.problems)} problem(s)")
            for problem in result.problems:
                say(f"   - {problem}")
        else:
            say(
                "   PASS: ledger verified, audit chain verified, balances = grants - runs, "
                "nothing open, every event processed once, no 500, 503 only in outages"
            )

    def final(self, number: int, total: int) -> Result:
        """Deliver the events not delivered again yet, twice each, then check everything."""

        class Final:
            name = "redeliver"
            fault = "the last stored events delivered again, twice each, shuffled; no load"
            prepare = None
            inject = None

        say(f"\n== {number}/{total} {Final.name}: {Final.fault}")
        load = self.load()
        start = time.time()
        for event in self.deliveries():
            load.deliver(event)
        end = time.time()
        state = PhaseState()
        problems = self.settle(end, state)
        return self.check(Final, state, start, end, problems)


def group_of(kind: str) -> str:
    if kind.startswith(("run:", "replay:", "retry:")):
        return "runs"
    if kind.startswith("webhook:"):
        return "webhooks"
    if kind in ("balance", "runs", "run-status", "bad-key"):
        return "reads"
    return "purchase"


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


Inject = Callable[[Harness, PhaseState], None]

"""The phases: one fault each, injected part-way through the phase's load.

=====================  =====================================================================
baseline               no fault: the figures to compare with
web-worker-kill        ``kill -9`` of a gunicorn worker (twice in the default run)
task-worker-kill       ``kill -9`` of a task worker in the middle of a background run, then a
                       new worker; the sweep must fail the run and give its credits back
postgres-restart       ``pg_ctl restart -m fast`` (and ``-m immediate``, a crash, in the
                       default run)
redis-restart          Redis stopped, then started again (empty)
pgbouncer              everything through PgBouncer in transaction mode
=====================  =====================================================================
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from faults.checks import clock
from faults.harness import Harness, Mode, PhaseState, kill

Step = Callable[[Harness, PhaseState], None]


@dataclass(frozen=True)
class Phase:
    name: str
    fault: str
    #: Seconds of load. After a fault, the load goes on while runs started before it are
    #: open, until the sweep has finished them (their timeout plus its grace at most).
    seconds: float
    #: Seconds into the load the fault is injected.
    at: float = 0
    inject: Step | None = None
    prepare: Step | None = None


def kill_web_worker(harness: Harness, state: PhaseState) -> None:
    assert harness.site is not None
    workers = harness.site.web_workers()
    victim = random.Random(len(state.windows)).choice(workers)  # noqa: S311
    started = time.time()
    kill(victim)
    # gunicorn's master notices and forks a new worker.
    deadline = time.time() + 30
    while time.time() < deadline:
        now = harness.site.web_workers()
        if victim not in now and len(now) == len(workers):
            break
        time.sleep(0.1)
    recovered = time.time()
    state.outage(started, recovered, f"gunicorn worker {victim} killed")
    state.notes.append(
        f"killed web worker {victim} at {clock(started)}; gunicorn had {len(workers)} workers "
        f"again after {recovered - started:.1f} s"
    )


def kill_twice(harness: Harness, state: PhaseState) -> None:
    kill_web_worker(harness, state)
    time.sleep(15)
    kill_web_worker(harness, state)


def kill_task_worker(harness: Harness, state: PhaseState) -> None:
    """Hold the background reports (the example's ``DEMO_REPORT_HOLD_FILE``) until both task
    workers are each in the middle of one, kill one with SIGKILL, start a new worker, let the
    reports go. The killed worker's run stays ``running`` until the sweep fails it."""
    assert harness.site is not None
    assert harness.probe is not None
    hold = harness.config.hold_file
    hold.touch()
    try:
        load = harness.load()
        for customer in harness.customers[: len(harness.site.workers)]:
            load.submit(customer, "document-report")
        deadline = time.time() + 30
        running: list[int] = []
        while time.time() < deadline:
            running = harness.probe.ask("running", service="document-report")
            if len(running) >= len(harness.site.workers):
                break
            time.sleep(0.3)
        else:
            state.problems.append(
                f"the task workers did not start two background runs in 30 s (running: {running})"
            )
            return
        victim = harness.site.workers[0]
        pid = victim.pid
        harness.supervisor.forget(victim)
        kill(pid)
        victim.stop()
        replacement = harness.site.replace_worker(0)
    finally:
        hold.unlink(missing_ok=True)
    # The run the killed worker held is the one still running once the other has finished.
    time.sleep(6)
    still = set(harness.probe.ask("running", service="document-report")) & set(running)
    state.interrupted = sorted(still)
    state.notes.append(
        f"killed task worker {pid} with runs {running} in progress, started worker "
        f"{replacement.pid}; left running: {state.interrupted}"
    )
    if not still:
        state.problems.append(
            f"no background run was left running by the killed worker (runs {running})"
        )


def restart_postgres(mode: str) -> Step:
    def inject(harness: Harness, state: PhaseState) -> None:
        started = time.time()
        harness.postgres.restart(mode)
        recovered = time.time()
        state.outage(started, recovered, f"PostgreSQL restart -m {mode}")
        state.notes.append(f"pg_ctl restart -m {mode} took {recovered - started:.1f} s")

    return inject


def restart_redis(down: float) -> Step:
    def inject(harness: Harness, state: PhaseState) -> None:
        started = time.time()
        harness.redis.stop()
        time.sleep(down)
        harness.redis.start()
        recovered = time.time()
        state.outage(started, recovered, "Redis stopped and started again")
        state.notes.append(f"Redis down for {recovered - started:.1f} s")

    return inject


def through_pgbouncer(harness: Harness, state: PhaseState) -> None:
    harness.switch_to_pgbouncer()
    assert harness.pgbouncer is not None
    state.notes.append(
        f"PgBouncer 1.18 on 127.0.0.1:{harness.pgbouncer.port}, pool_mode = transaction, "
        f"{harness.pgbouncer.POOL_SIZE} server connections for 7 clients; "
        "DISABLE_SERVER_SIDE_CURSORS and QUICKSCALE_CORE_PREPARED_STATEMENTS = False"
    )


def phases(mode: Mode) -> list[Phase]:
    """The phases of a run. ``seconds`` is the load's length unless the fault left runs for
    the sweep to finish: then the load goes on until it has (see :class:`Phase`)."""
    worker_kill = "kill -9 of a task worker in the middle of a background run"
    through = "web, workers and sweep through PgBouncer (transaction mode)"
    if mode.short:
        return [
            Phase("baseline", "no fault", 12),
            Phase("web-worker-kill", "kill -9 of a gunicorn worker", 15, 5, kill_web_worker),
            Phase("task-worker-kill", worker_kill, 15, 5, kill_task_worker),
            Phase("postgres-restart", "pg_ctl restart -m fast", 20, 5, restart_postgres("fast")),
            Phase("redis-restart", "Redis stopped for 5 s", 20, 5, restart_redis(5)),
            Phase("pgbouncer", through, 15, prepare=through_pgbouncer),
        ]
    return [
        Phase("baseline", "no fault", 45),
        Phase("web-worker-kill", "kill -9 of a gunicorn worker, twice", 60, 15, kill_twice),
        Phase("task-worker-kill", worker_kill, 45, 10, kill_task_worker),
        Phase("postgres-restart", "pg_ctl restart -m fast", 60, 15, restart_postgres("fast")),
        Phase(
            "postgres-crash",
            "pg_ctl restart -m immediate (a crash, then recovery)",
            60,
            15,
            restart_postgres("immediate"),
        ),
        Phase("redis-restart", "Redis stopped for 15 s", 60, 15, restart_redis(15)),
        Phase("pgbouncer", through, 60, prepare=through_pgbouncer),
    ]

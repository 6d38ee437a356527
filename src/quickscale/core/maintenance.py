"""The periodic upkeep of every installed app, as one sweep.

Each app registers its job in ``AppConfig.ready()``: credits expire due grants and release holds
that ran out, services fail the runs that can no longer finish (giving back their credits),
billing processes again the webhook events a crash or an outage left unfinished, the audit log
seals new events into its chain. :func:`sweep` runs them in order. Run it about every
minute, from one process: ``manage.py quickscale sweep --every 60`` (the one scheduler a
deployment needs), or enqueue :data:`run_sweep` from a scheduler of your own.

An app knows only of this module; this module knows of no app, so the dependency order holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from quickscale.core.context import Actor, context, current, new_request_id
from quickscale.core.errors import QuickScaleError
from quickscale.core.tasks import task

__all__ = ["Job", "SweepFailed", "jobs", "register", "sweep"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One app's part of the sweep: ``run(now)`` returns what it did, for the log."""

    name: str
    order: int
    run: Callable[[datetime], Any]


class SweepFailed(QuickScaleError):
    """A job of the sweep raised; the other jobs ran. The first error is the cause."""

    code = "sweep_failed"
    status = 503


_jobs: dict[str, Job] = {}


def register(name: str, run: Callable[[datetime], Any], *, order: int) -> None:
    """Add (or replace) the job ``name``; jobs run by ascending ``order``."""
    _jobs[name] = Job(name, order, run)


def jobs() -> list[Job]:
    """The registered jobs in the order the sweep runs them: by ``order``, then by name."""
    return sorted(_jobs.values(), key=lambda job: (job.order, job.name))


def sweep(*, now: datetime | None = None) -> dict[str, Any]:
    """Run every registered job once, each on its own: one that fails is logged with its
    traceback and the others still run; then :class:`SweepFailed` names the ones that failed.
    Returns what each job did."""
    now = now or timezone.now()
    done: dict[str, Any] = {}
    failed: list[tuple[str, Exception]] = []
    scope = (
        context(request_id=new_request_id())
        if current().actor_source
        else context(actor=Actor.system("sweep"), request_id=new_request_id())
    )
    with scope:
        for job in jobs():
            try:
                done[job.name] = job.run(now)
            # Every job's failure is kept (logged here, raised below): one app's broken job
            # must not stop the others from releasing credits or sealing the log.
            except Exception as error:
                logger.exception("The %s part of the sweep failed", job.name)
                failed.append((job.name, error))
    if failed:
        names = ", ".join(name for name, _ in failed)
        raise SweepFailed(
            f"The sweep's {names} part failed: {failed[0][1]}",
            details={"failed": [name for name, _ in failed], "done": sorted(done)},
        ) from failed[0][1]
    return done


if task is not None:

    @task()
    def run_sweep() -> dict[str, Any]:
        """The sweep as a background task, for a scheduler that enqueues tasks."""
        return sweep()

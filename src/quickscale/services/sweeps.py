"""The services' part of the periodic sweep: failing runs that can no longer finish."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from quickscale.credits import ledger
from quickscale.credits.models import CreditHold, HoldState
from quickscale.services.exceptions import ServiceNotFound
from quickscale.services.held import HOLD_GRACE, fail
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.outcome import logger, timeout
from quickscale.services.registry import registry


def sweep_runs(*, now: datetime | None = None) -> int:
    """Fail the runs that can no longer finish, giving back what they hold; returns how many.

    A run can no longer finish when it started more than its timeout plus :data:`HOLD_GRACE`
    ago (whatever runs it stops waiting at its timeout, so the process running it died), when
    its hold was released (it waited in the queue longer than the hold lasts), or, for a run
    without a hold, when it was created that long ago. So an interrupted run is finished within
    its own timeout plus the grace, plus the time to the next sweep.
    """
    now = now or timezone.now()
    ledger.release_expired_holds(now=now)
    failed = 0
    open_runs = ServiceRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    for run in open_runs.select_related("service").order_by("id"):
        if not _cannot_finish(run, now):
            continue
        with transaction.atomic():
            current = ServiceRun.objects.select_for_update().get(pk=run.pk)
            if current.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                fail(current, None, "The run was interrupted; its credits were given back.")
                failed += 1
                logger.warning(
                    "Run %s of %s was %s and could not finish (created %s, started %s); "
                    "failed at no cost.",
                    run.pk,
                    run.service.slug,
                    run.status,
                    run.created_at,
                    run.started_at,
                )
    return failed


def _cannot_finish(run: ServiceRun, now: datetime) -> bool:
    if run.started_at is None and run.hold_id is not None:
        # Still queued: it may wait for a worker as long as its hold lasts.
        return not CreditHold.objects.filter(pk=run.hold_id, state=HoldState.ACTIVE).exists()
    try:
        limit = timeout(registry.get(run.service.slug)()) + HOLD_GRACE
    except ServiceNotFound:  # the class is gone: its runs get the default timeout
        limit = settings.QUICKSCALE_SERVICES_DEFAULT_TIMEOUT + HOLD_GRACE
    since = run.started_at if run.started_at is not None else run.created_at
    return since + timedelta(seconds=limit) <= now

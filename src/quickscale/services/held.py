"""Held runs: hold the cost, run outside any transaction, then capture or release.

The run is written with its hold in one transaction; the service then runs in a worker thread
(so a timeout can be enforced) or, for ``run_async`` services, in a background task; on success
what the run charged is captured and the rest released, on failure everything is released.
Whatever finishes a run locks its row before the ledger's, as the sweep does. A crash leaves at
most a hold, which the sweep releases (:mod:`quickscale.services.sweeps`).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from quickscale.core.tasks import queues_with
from quickscale.credits import ledger
from quickscale.credits.exceptions import InvalidOperation
from quickscale.credits.models import CreditHold, HoldState
from quickscale.services.base import BaseService, RunContext
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceNotFound,
    ServiceTimeout,
)
from quickscale.services.inputs import Prepared, validate_input
from quickscale.services.models import RunStatus, ServiceRun
from quickscale.services.outcome import (
    FINISHED_FIELDS,
    as_json,
    describe,
    finish,
    hook,
    logger,
    reference,
    timeout,
    took_too_long,
)
from quickscale.services.registry import registry

#: Extra seconds a hold outlives the service's timeout, so a slow capture is not raced by the
#: sweep.
HOLD_GRACE = 60
#: Seconds a caller is asked to wait before sending again a run that could not be queued.
QUEUE_RETRY_AFTER = 10


def run_held(user: Any, prepared: Prepared, key: str | None, raw: dict[str, Any]) -> ServiceRun:
    """Run ``prepared`` for ``user`` with its cost held (see the module docstring) and return
    the run: finished, or for a ``run_async`` service as the task backend left it (``queued``
    until a worker starts it). Raises ``InsufficientCredits`` (nothing recorded) when the cost
    cannot be held, and :class:`QueueUnavailable` when the run cannot be queued."""
    service = prepared.service
    queued = service.run_async
    now = timezone.now()
    # The caller's own transaction, if any: a queued run is then handed over at its commit.
    nested = transaction.get_connection().in_atomic_block
    payload: dict[str, Any] = {}
    enqueue_after_commit = False
    with transaction.atomic():
        run = ServiceRun.objects.create(
            user=user,
            service=prepared.entry,
            status=RunStatus.QUEUED if queued else RunStatus.RUNNING,
            mode="held",
            reserved=prepared.price,
            input_digest=prepared.digest,
            idempotency_key=key,
            started_at=None if queued else now,
        )
        if prepared.price:
            hold_timeout = max(
                settings.QUICKSCALE_CREDITS_HOLD_TIMEOUT, timeout(service) + HOLD_GRACE
            )
            run.hold = ledger.hold(
                user,
                prepared.price,
                timeout=hold_timeout,
                reason=f"service {service.slug}",
                reference=reference(run),
                idempotency_key=reference(run),
            )
            run.save(update_fields=["hold"])
        if queued:
            # The task gets the input as JSON (cleaned data may hold dates or decimals) and
            # validates it again in the worker.
            payload = json.loads(json.dumps(raw, cls=DjangoJSONEncoder))
            if _queues_with_runs():
                _task().enqueue(run.pk, payload)  # the run, its hold and its task: all or none
            elif nested:
                # Raised at the caller's commit, a refusal would cut the callbacks after it
                # short: it is logged instead, and the caller finds the run failed.
                transaction.on_commit(lambda: _enqueue(run, payload), robust=True)
            else:
                enqueue_after_commit = True
    if enqueue_after_commit:
        _enqueue(run, payload)  # once committed: a worker must find the run
    if queued:
        run.refresh_from_db()  # an immediate task backend has run it already
        return run
    return _perform(service, run, prepared.data)


def _task() -> Any:
    from quickscale.services.tasks import perform_run

    return perform_run


def _queues_with_runs() -> bool:
    return queues_with(_task(), ServiceRun)


def _enqueue(run: ServiceRun, payload: dict[str, Any]) -> None:
    """Hand a committed, queued run to the task backend. If the backend cannot take it (its
    store is down), nothing may stay held for a run no worker will start: the run is failed at
    no cost, its idempotency key freed, and :class:`QueueUnavailable` raised."""
    try:
        _task().enqueue(run.pk, payload)
    except Exception as error:  # any backend's failure: the run is refused, then raised as ours
        if not _refuse(run):
            logger.warning(
                "The task backend raised for run %s, yet a worker started it: %r", run.pk, error
            )
            return
        logger.exception("Run %s could not be queued; it was failed at no cost.", run.pk)
        raise QueueUnavailable(
            gettext(
                "The run could not be queued: background work is unavailable for a moment. "
                "Nothing was charged; send the request again shortly."
            ),
            retry_after=QUEUE_RETRY_AFTER,
            run=run.pk,
        ) from error


def _refuse(run: ServiceRun) -> bool:
    """Fail a run that never reached the queue and free its idempotency key, so that sending
    the request again starts a new run rather than replaying this one; ``False`` if a worker
    started it after all. (If the database is down too, its error propagates: the run then
    waits, queued, until the sweep fails it when its hold expires.)"""
    with transaction.atomic():
        current = ServiceRun.objects.select_for_update().get(pk=run.pk)
        if current.status != RunStatus.QUEUED:
            return False
        current.idempotency_key = None
        current.save(update_fields=["idempotency_key"])
        fail(current, None, "The run could not be queued; its credits were given back.")
    return True


def perform_queued(run_id: int, data: dict[str, Any]) -> ServiceRun | None:
    """Start a queued run (what the background task does). A run that is no longer queued
    (a duplicate delivery) is left alone; one whose hold would run out before the run's timeout
    fails without starting."""
    with transaction.atomic():
        run = (
            ServiceRun.objects.select_for_update()
            .select_related("service", "user")
            .filter(pk=run_id, status=RunStatus.QUEUED)
            .first()
        )
        if run is None:
            return None
        run.status = RunStatus.RUNNING
        run.started_at = timezone.now()
        run.save(update_fields=["status", "started_at"])
    try:
        service = registry.get(run.service.slug)()
    except ServiceNotFound as error:
        return fail(run, None, describe(error, prefix="The run could not start: "))
    if run.hold_id is not None:
        # The run must be able to finish before its hold runs out, or the sweep would release
        # it mid-run: a run that waited too long in the queue does not start.
        deadline = run.started_at + timedelta(seconds=timeout(service))
        if not CreditHold.objects.filter(
            pk=run.hold_id, state=HoldState.ACTIVE, expires_at__gte=deadline
        ).exists():
            return fail(run, None, "The run waited too long in the queue and was not started.")
    try:
        clean = validate_input(service, data)
    except InvalidInput as error:
        return fail(run, None, describe(error, prefix="The run could not start: "))
    return _perform(service, run, clean)


def _perform(service: BaseService, run: ServiceRun, data: dict[str, Any]) -> ServiceRun:
    ctx = RunContext(user=run.user, run=run, cost=run.reserved)
    started = time.monotonic()
    try:
        output = _call_with_timeout(service, ctx, data, timeout(service))
        output = as_json(output)
    except Exception as error:  # noqa: BLE001 (any failure of the service is recorded, never charged)
        logger.warning("Service %s run %s failed: %s", service.slug, run.pk, error)
        failed = fail(run, started, describe(error))
        hook(service.on_failure, ctx, error)
        return failed
    try:
        with transaction.atomic():
            _lock(run)
            if run.hold_id is not None:
                run.charge = ledger.capture(
                    CreditHold.objects.get(pk=run.hold_id),
                    ctx.charged,
                    reason=f"service {service.slug}",
                    idempotency_key=f"{reference(run)}:capture",
                )
            finish(run, started, RunStatus.SUCCEEDED, cost=ctx.charged, output=output)
            run.save(update_fields=FINISHED_FIELDS)
    except InvalidOperation:
        # The hold is gone: the sweep released it because the run outlived it.
        run.charge = None
        failed = fail(run, started, "The run outlived its hold; nothing was charged.")
        hook(service.on_failure, ctx, ServiceTimeout("The run outlived its hold."))
        return failed
    hook(service.on_success, ctx, output)
    return run


def _call_with_timeout(
    service: BaseService, ctx: RunContext, data: dict[str, Any], timeout: int
) -> Any:
    """Run the service in a worker thread and stop waiting after ``timeout`` seconds.

    Python cannot stop a thread, so a timed-out run goes on in the background, but its result
    is discarded and nothing is charged for it.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["output"] = service.run(ctx, data)
        except BaseException as error:  # noqa: BLE001 (re-raised in the caller's thread)
            outcome["error"] = error
        finally:
            connection.close()

    worker = threading.Thread(target=target, name=f"service-{service.slug}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ServiceTimeout(took_too_long(timeout))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("output")


def _lock(run: ServiceRun) -> None:
    """Lock the run's row. Whatever finishes a held run takes this lock before the ledger's
    (the account's, the hold's), as the sweep does: a capture, a failure and the sweep never
    wait on one another in opposite orders."""
    ServiceRun.objects.select_for_update().filter(pk=run.pk).values_list("pk").first()


def fail(run: ServiceRun, started: float | None, message: str) -> ServiceRun:
    """Fail ``run`` at no cost with ``message`` as its error, releasing its hold if it is still
    active, and return it. ``started`` (a ``time.monotonic()`` reading) gives its duration."""
    with transaction.atomic():
        _lock(run)
        if run.hold_id is not None:
            reservation = CreditHold.objects.get(pk=run.hold_id)
            if reservation.state == HoldState.ACTIVE:
                ledger.release(
                    reservation,
                    reason="service run failed",
                    idempotency_key=f"{reference(run)}:release",
                )
        finish(run, started, RunStatus.FAILED, cost=Decimal(0), error=message)
        run.save(update_fields=FINISHED_FIELDS)
    return run

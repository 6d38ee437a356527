"""Inline runs: run, charge and record in one transaction.

The shape is the same on every database::

    with transaction.atomic():
        ledger.lock_available(user, price)   # the account stays locked until the commit
        run = ServiceRun(status="running")   # written, so the service sees its id
        output = service.run(ctx, data)
        run.charge = ledger.debit(user, what the run charged)
        run.save()                           # succeeded, with its charge

Locking the account first means concurrent inline runs of one user run one at a time, and a
balance that pays for N runs lets at most N run: a service's side effects (an LLM call that
costs the operator money) never happen for free. The service and its charge run in a savepoint:
an exception from the service, or a charge that fails after it, rolls back their writes, and the
run is recorded as failed at no cost in the same transaction, so a retry with the same
idempotency key gets that failed run back instead of running the service again.
The lock is held while the service runs: inline mode is for fast services; slow ones run
held (see :mod:`quickscale.services.held`).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from django.db import router, transaction
from django.utils import timezone

from quickscale.credits import ledger
from quickscale.services.base import BaseService, RunContext
from quickscale.services.exceptions import ServiceTimeout
from quickscale.services.inputs import Prepared
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


def run_inline(user: Any, prepared: Prepared, key: str | None) -> ServiceRun:
    """Run ``prepared`` for ``user`` inline (see the module docstring) and return its run.

    Raises ``InsufficientCredits`` (nothing run, nothing recorded) when the user cannot pay,
    and ``IntegrityError`` (nothing run) when a concurrent call recorded a run with the same
    idempotency ``key`` first.
    """
    service = prepared.service
    started = time.monotonic()
    failure: Exception | None = None
    using = router.db_for_write(ServiceRun)
    with transaction.atomic(using=using):
        ledger.lock_available(user, prepared.price)
        # With an idempotency key, a concurrent retry that got the lock first wrote its run
        # already: this INSERT then fails on the key, before the service runs, and
        # ``execute()`` returns that run.
        run = ServiceRun.objects.create(
            user=user,
            service=prepared.entry,
            status=RunStatus.RUNNING,
            mode="inline",
            reserved=prepared.price,
            input_digest=prepared.digest,
            idempotency_key=key,
            started_at=timezone.now(),
        )
        ctx = RunContext(user=user, run=run, cost=prepared.price)
        try:
            # The service's writes and the charge roll back together, and the run stays, so a
            # retry with its key finds it failed rather than running the service again.
            with transaction.atomic(using=using):
                output = _call(service, ctx, prepared.data, started)
                finish(run, started, RunStatus.SUCCEEDED, cost=ctx.charged, output=output)
                if run.cost:
                    run.charge = ledger.debit(
                        user,
                        run.cost,
                        reason=f"service {service.slug}",
                        reference=reference(run),
                    )
                    run.balance_after = run.charge.balance_after
        except Exception as error:  # noqa: BLE001 (any failure of the service or its charge is recorded, never charged)
            failure = error
            logger.warning("Service %s inline run failed: %s", service.slug, error)
            run.charge = None
            run.balance_after = None
            finish(run, started, RunStatus.FAILED, cost=Decimal(0), error=describe(error))
        run.save(update_fields=FINISHED_FIELDS)
    if failure is not None:
        hook(service.on_failure, ctx, failure)
    else:
        hook(service.on_success, ctx, run.output)
    return run


def _call(service: BaseService, ctx: RunContext, data: dict[str, Any], started: float) -> Any:
    """Run in the caller's thread (inside its transaction); a run past its timeout fails
    after the fact, since the transaction cannot be handed to another thread."""
    output = as_json(service.run(ctx, data))
    if time.monotonic() - started > timeout(service):
        raise ServiceTimeout(took_too_long(timeout(service)))
    return output

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
costs the operator money) never happen for free. An exception from the service, or a charge
that fails after it, rolls all of it back, and the run is recorded as failed at no cost.
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
from quickscale.credits.exceptions import CreditError
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
)


class _RunFailed(Exception):
    """The service, or the charge after it, failed: the transaction rolls back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def run_inline(user: Any, prepared: Prepared, key: str | None) -> ServiceRun:
    """Run ``prepared`` for ``user`` inline (see the module docstring) and return its run.

    Raises ``InsufficientCredits`` (nothing run, nothing recorded) when the user cannot pay,
    and ``IntegrityError`` (nothing run) when a concurrent call recorded a run with the same
    idempotency ``key`` first.
    """
    service = prepared.service
    started = time.monotonic()
    ctx = None
    try:
        with transaction.atomic(using=router.db_for_write(ServiceRun)):
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
                output = _call(service, ctx, prepared.data, started)
            except Exception as error:  # rolls the run and its writes back; recorded below
                raise _RunFailed(error) from error
            finish(run, started, RunStatus.SUCCEEDED, cost=ctx.charged, output=output)
            if run.cost:
                try:
                    run.charge = ledger.debit(
                        user,
                        run.cost,
                        reason=f"service {service.slug}",
                        reference=reference(run),
                    )
                except CreditError as error:  # the run must not be kept unpaid
                    raise _RunFailed(error) from error
                run.balance_after = run.charge.balance_after
            run.save(update_fields=FINISHED_FIELDS)
    except _RunFailed as failure:
        return _record_failure(user, prepared, key, started, failure.error)
    hook(service.on_success, ctx, output)
    return run


def _record_failure(
    user: Any, prepared: Prepared, key: str | None, started: float, error: Exception
) -> ServiceRun:
    """Record an inline run whose transaction rolled back, at no cost."""
    service = prepared.service
    logger.warning("Service %s inline run failed: %s", service.slug, error)
    run = ServiceRun.objects.create(
        user=user,
        service=prepared.entry,
        status=RunStatus.FAILED,
        mode="inline",
        reserved=prepared.price,
        cost=Decimal(0),
        input_digest=prepared.digest,
        idempotency_key=key,
        error=describe(error)[:2000],
        finished_at=timezone.now(),
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    hook(service.on_failure, RunContext(user=user, run=run, cost=prepared.price), error)
    return run


def _call(service: BaseService, ctx: RunContext, data: dict[str, Any], started: float) -> Any:
    """Run in the caller's thread (inside its transaction); a run past its timeout fails
    after the fact, since the transaction cannot be handed to another thread."""
    output = as_json(service.run(ctx, data))
    if time.monotonic() - started > timeout(service):
        raise ServiceTimeout(f"The service did not finish within {timeout(service)} seconds.")
    return output

"""Running a service for a user: validate, charge, run, record.

:func:`execute` is the one entry point. It checks the request, then runs the service in one of
two modes, which the service chooses:

- *inline* (:mod:`quickscale.services.inline`): run, charge and record in one transaction, with
  the user's account locked first, so concurrent runs never run for free;
- *held* (:mod:`quickscale.services.held`): hold the cost, run outside any transaction (in a
  worker thread, or a background task for ``run_async`` services), then capture what the run
  charged or release everything on failure.

Either way a failed run costs nothing and is recorded as failed, and a crash leaves at most a
hold that the sweep (:mod:`quickscale.services.sweeps`) releases. The catalog lives in
:mod:`quickscale.services.catalog`, input checks in :mod:`quickscale.services.inputs` and usage
reports in :mod:`quickscale.services.usage`; their public names are importable from here too.

Async code calls :func:`aexecute`, :func:`aenabled_services` and :func:`ausage`: the same
functions run through ``sync_to_async(thread_sensitive=True)`` by the ledger's
:func:`~quickscale.core.asynchronous.to_async`, with the same arguments, results and
exceptions.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError

from quickscale.core.asynchronous import to_async
from quickscale.credits import ledger
from quickscale.services.catalog import (
    CATALOG_FIELDS,
    announce_change,
    catalog_entry,
    enabled_services,
    fixed_price,
    price,
    sync_catalog,
)
from quickscale.services.held import HOLD_GRACE, QUEUE_RETRY_AFTER, perform_queued, run_held
from quickscale.services.inline import run_inline
from quickscale.services.inputs import (
    Prepared,
    first_run,
    input_digest,
    prepare,
    validate_input,
)
from quickscale.services.models import ServiceRun
from quickscale.services.sweeps import sweep_runs
from quickscale.services.usage import usage

__all__ = [
    "CATALOG_FIELDS",
    "HOLD_GRACE",
    "QUEUE_RETRY_AFTER",
    "Prepared",
    "aenabled_services",
    "aexecute",
    "announce_change",
    "ausage",
    "catalog_entry",
    "enabled_services",
    "execute",
    "fixed_price",
    "input_digest",
    "perform_queued",
    "prepare",
    "price",
    "sweep_runs",
    "sync_catalog",
    "usage",
    "validate_input",
]


def execute(user: Any, slug: str, data: Any, *, idempotency_key: str | None = None) -> ServiceRun:
    """Run the service ``slug`` for ``user`` on ``data`` and return its ``ServiceRun``.

    Raises ``ServiceNotFound``, ``ServiceDisabled``, ``InvalidInput`` or ``InsufficientCredits``
    (nothing recorded, nothing charged) when the run cannot start. A run that starts and fails
    is returned with status ``failed`` and charges nothing. Calling again with the same
    ``idempotency_key`` returns the first run, with ``replayed`` set, also to a call made
    while the first was still running; the same key with other input raises
    ``IdempotencyConflict``. Services with ``run_async`` return the run ``queued``.
    """
    ledger.check_idempotency_key(idempotency_key)
    digest = input_digest(slug, data)
    if idempotency_key is not None:
        # Before anything else: a replay returns the first run even if the service has since
        # been disabled or changed its form.
        first = first_run(user, idempotency_key, slug, digest)
        if first is not None:
            return first
    prepared = prepare(slug, data, digest)
    try:
        if prepared.service.mode == "inline":
            return run_inline(user, prepared, idempotency_key)
        return run_held(user, prepared, idempotency_key, data)
    except IntegrityError:
        # A concurrent call with the same key recorded its run first.
        if idempotency_key is None:
            raise
        first = first_run(user, idempotency_key, slug, digest)
        if first is None:
            raise
        return first


#: Async :func:`execute`, for ``async def`` views: ``run = await aexecute(user, slug, data)``.
aexecute = to_async(execute)
#: Async :func:`~quickscale.services.catalog.enabled_services`.
aenabled_services = to_async(enabled_services)
#: Async :func:`~quickscale.services.usage.usage`.
ausage = to_async(usage)

"""Running a service for a user: validate, charge, run, record.

*Held* mode holds the cost, runs outside any transaction (in a worker thread, so a timeout can
be enforced), then captures what the run charged or releases everything on failure. *Inline*
mode debits, runs and records in one transaction: one commit per run, and an exception rolls
all of it back. Either way a failed run costs nothing and is recorded as failed, and a crash
leaves at most a hold that the sweep releases.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    connection,
    connections,
    models,
    router,
    transaction,
)
from django.db.models import Count, Q, Sum
from django.db.models import signals as model_signals
from django.db.models.functions import TruncDate
from django.utils import timezone

from quickscale.core.db import fetch_one
from quickscale.core.tasks import queues_with
from quickscale.credits import ledger
from quickscale.credits.amounts import quantize, to_amount
from quickscale.credits.exceptions import IdempotencyConflict, InvalidOperation
from quickscale.credits.models import CreditAccount, CreditHold, HoldState
from quickscale.services import signals
from quickscale.services.base import BaseService, RunContext
from quickscale.services.exceptions import (
    InvalidInput,
    QueueUnavailable,
    ServiceDisabled,
    ServiceNotFound,
    ServiceTimeout,
)
from quickscale.services.models import RunStatus, Service, ServiceRun
from quickscale.services.registry import registry

logger = logging.getLogger(__name__)

#: Extra seconds a hold outlives the service's timeout, so a slow capture is not raced by the
#: sweep.
HOLD_GRACE = 60
#: Seconds a caller is asked to wait before sending again a run that could not be queued.
QUEUE_RETRY_AFTER = 10


@dataclass(frozen=True)
class Prepared:
    service: BaseService
    entry: Service
    data: dict[str, Any]
    price: Decimal
    digest: str
    #: An id reserved for the run (PostgreSQL), so an inline run is written once, whole.
    run_id: int | None = None
    #: The user's available credits as the catalog query read them (``None``: no user given).
    available: Decimal | None = None


#: The catalog fields announced by ``catalog_changed``.
CATALOG_FIELDS = ("slug", "name", "description", "enabled", "price_override", "registered")


def announce_change(
    entry: Service,
    changes: dict[str, list[Any]],
    *,
    created: bool = False,
    actor: Any = None,
) -> None:
    """Send ``catalog_changed`` for a row just written, inside the caller's transaction."""
    if changes and signals.catalog_changed.receivers:
        signals.catalog_changed.send(
            sender=Service, service=entry, created=created, changes=changes, actor=actor
        )


def catalog_entry(service: type[BaseService], using: str = "default") -> Service:
    """The catalog row of a registered service, created on first use."""
    entry = Service.objects.using(using).filter(slug=service.slug).first()
    if entry is not None:
        return entry
    with transaction.atomic(using=using):
        entry, created = Service.objects.using(using).get_or_create(
            slug=service.slug,
            defaults={"name": service.name or service.slug, "description": service.description},
        )
        if created:
            announce_change(
                entry,
                {field: [None, getattr(entry, field)] for field in CATALOG_FIELDS},
                created=True,
            )
    return entry


def _catalog_row(
    slug: str, owner_id: Any = None
) -> tuple[Service | None, int | None, Decimal | None]:
    """The catalog row of ``slug``, the credits ``owner_id`` has available (``None`` without
    an owner) and, on PostgreSQL, an id for a run of it taken from the runs' sequence, in one
    query (the statement is built once per connection)."""
    conn = connections[router.db_for_read(Service)]
    plan = conn.__dict__.get("_quickscale_catalog_row")
    if plan is None:
        plan = conn.__dict__["_quickscale_catalog_row"] = _catalog_plan(conn)
    sql, names = plan
    row = fetch_one(conn, sql, [owner_id, slug])
    if row is None:
        return None, None, None
    available = None if owner_id is None else Decimal(row[1] if row[1] is not None else 0)
    return Service.from_db(conn.alias, names, row[2:]), row[0], available


def _catalog_plan(conn: Any) -> tuple[str, list[str]]:
    quote = conn.ops.quote_name
    fields = Service._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    table = quote(Service._meta.db_table)
    slug_field: Any = Service._meta.get_field("slug")
    where = f"WHERE {quote(slug_field.column)} = %s"
    # What the debit will check, read ahead so a run the user cannot pay for never starts.
    # Never more than the debit would find: unswept expired credits only lower it.
    accounts = quote(CreditAccount._meta.db_table)
    available = f"(SELECT balance - held FROM {accounts} WHERE owner_id = %s)"  # noqa: S608
    if conn.vendor == "postgresql":
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                [ServiceRun._meta.db_table, ServiceRun._meta.pk.column],
            )
            sequence = cursor.fetchone()[0]
        literal = "'" + sequence.replace("'", "''").replace("%", "%%") + "'"
        run_id = f"nextval({literal})"
    else:
        run_id = "NULL"
    sql = f"SELECT {run_id}, {available}, {columns} FROM {table} {where}"  # noqa: S608
    return sql, [field.attname for field in fields]


def sync_catalog(using: str = "default") -> list[Service]:
    """Mirror the registry into the catalog: new services are added, names and descriptions
    follow the code, staff choices (enabled, price) are kept, vanished ones are flagged."""
    slugs = []
    for service in registry.all():
        entry = catalog_entry(service, using)
        name = service.name or service.slug
        wanted = {"name": name, "description": service.description, "registered": True}
        changes = {
            field: [getattr(entry, field), value]
            for field, value in wanted.items()
            if getattr(entry, field) != value
        }
        if changes:
            with transaction.atomic(using=using):
                for field, value in wanted.items():
                    setattr(entry, field, value)
                entry.save(update_fields=[*wanted, "updated_at"])
                announce_change(entry, changes)
        slugs.append(service.slug)
    with transaction.atomic(using=using):
        vanished = list(
            Service.objects.using(using)
            .select_for_update()
            .filter(registered=True)
            .exclude(slug__in=slugs)
        )
        Service.objects.using(using).filter(pk__in=[entry.pk for entry in vanished]).update(
            registered=False, updated_at=timezone.now()
        )
        for entry in vanished:
            entry.registered = False
            announce_change(entry, {"registered": [True, False]})
    return list(Service.objects.using(using).filter(registered=True).order_by("name"))


def enabled_services() -> list[tuple[BaseService, Service]]:
    """Each registered service staff have not disabled, with its catalog row, by name.

    One query; a service deployed since the last ``migrate`` gets its row on the way (the only
    write, once).
    """
    rows = {row.slug: row for row in Service.objects.all()}
    listed = []
    for service in registry.all():
        row = rows.get(service.slug) or catalog_entry(service)
        if row.enabled:
            listed.append((service(), row))
    return sorted(listed, key=lambda pair: pair[1].name)


def fixed_price(service: BaseService, entry: Service) -> Decimal | None:
    """What every run costs here (the staff's override, else the service's fixed cost), or
    ``None`` when the price depends on the input: what a catalog shows."""
    if entry.price_override is not None:
        return quantize(entry.price_override)
    return service.fixed_cost()


def price(service: BaseService, entry: Service, data: dict[str, Any]) -> Decimal:
    """What a run costs: the staff's override, else what the service computes."""
    if entry.price_override is not None:
        return to_amount(quantize(entry.price_override), field="price", allow_zero=True)
    return to_amount(service.get_cost(data), field="cost", allow_zero=True)


def input_digest(slug: str, data: Any) -> str:
    """A fingerprint of a request, to tell a replay from a different request with its key."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"The input must be an object, not {type(data).__name__}.",
            details={"__all__": ["The input must be an object."]},
        )
    try:
        text = json.dumps([slug, data], sort_keys=True, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            f"The input must be JSON data: {error}.", details={"__all__": [str(error)]}
        ) from None
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(slug: str, data: Any, digest: str | None = None, *, user: Any = None) -> Prepared:
    """Look the service up, check it may run and validate ``data``; charges nothing. With a
    ``user``, their available credits are read in the same query (``Prepared.available``)."""
    digest = digest or input_digest(slug, data)
    service_class = registry.get(slug)
    entry, run_id, available = _catalog_row(slug, getattr(user, "pk", None))
    if entry is None:  # deployed since the last migrate: the row is made on first use
        catalog_entry(service_class)
        entry, run_id, available = _catalog_row(slug, getattr(user, "pk", None))
        if entry is None:  # another database than the catalog's default
            entry = catalog_entry(service_class)
    if not entry.enabled:
        raise ServiceDisabled(f"The service {slug!r} is disabled.", details={"service": slug})
    service = service_class()
    if not service.is_available():
        raise ServiceDisabled(
            f"The service {slug!r} is not configured on this site.", details={"service": slug}
        )
    clean = validate_input(service, data)
    return Prepared(service, entry, clean, price(service, entry, clean), digest, run_id, available)


def validate_input(service: BaseService, data: Any) -> dict[str, Any]:
    """The service's form and ``validate`` hook; errors name each field."""
    if not isinstance(data, dict):
        raise InvalidInput(
            f"The input must be an object, not {type(data).__name__}.",
            details={"__all__": ["The input must be an object."]},
        )
    if service.input_form is None:
        clean = dict(data)
    else:
        form = service.input_form(data=data)
        if not form.is_valid():
            raise InvalidInput(
                "The input is invalid: " + ", ".join(sorted(form.errors)) + ".",
                details={field: list(errors) for field, errors in form.errors.items()},
            )
        clean = form.cleaned_data
    try:
        return service.validate(clean)
    except forms.ValidationError as error:
        messages = (
            error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        )
        raise InvalidInput(
            "The input is invalid: " + "; ".join(m for ms in messages.values() for m in ms),
            details=messages,
        ) from None


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
        first = _first_run(user, idempotency_key, slug, digest)
        if first is not None:
            return first
    prepared = prepare(slug, data, digest, user=user)
    if prepared.price and (prepared.available or 0) < prepared.price:
        # The debit or hold would refuse it: refuse before the service runs.
        raise ledger.insufficient_credits(prepared.available or Decimal(0), prepared.price)
    try:
        if prepared.service.mode == "inline":
            return _run_inline(user, prepared, idempotency_key)
        return _run_held(user, prepared, idempotency_key, data)
    except IntegrityError:
        # A concurrent call with the same key recorded its run first.
        if idempotency_key is None:
            raise
        first = _first_run(user, idempotency_key, slug, digest)
        if first is None:
            raise
        return first


def _first_run(user: Any, key: str, slug: str, digest: str) -> ServiceRun | None:
    first = (
        ServiceRun.objects.filter(user=user, idempotency_key=key).select_related("service").first()
    )
    if first is not None and (first.service.slug != slug or first.input_digest != digest):
        raise IdempotencyConflict(
            f"The idempotency key {key!r} was already used for a different request.",
            details={"idempotency_key": key, "run": first.pk},
        )
    if first is not None:
        first.replayed = True
    return first


def _timeout(service: BaseService) -> int:
    return service.timeout or settings.QUICKSCALE_SERVICES_DEFAULT_TIMEOUT


def _reference(run: ServiceRun) -> str:
    """The ledger reference and key prefix of a run's charges, in a namespace of its own."""
    return f"quickscale.services:run:{run.pk}"


def _run_held(user: Any, prepared: Prepared, key: str | None, raw: dict[str, Any]) -> ServiceRun:
    service = prepared.service
    queued = service.run_async
    now = timezone.now()
    # The caller's own transaction, if any: a queued run is then handed over at its commit.
    nested = transaction.get_connection().in_atomic_block
    payload: dict[str, Any] = {}
    enqueue_after_commit = False
    with transaction.atomic():
        run = ServiceRun.objects.create(
            id=prepared.run_id,
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
                settings.QUICKSCALE_CREDITS_HOLD_TIMEOUT, _timeout(service) + HOLD_GRACE
            )
            run.hold = ledger.hold(
                user,
                prepared.price,
                timeout=hold_timeout,
                reason=f"service {service.slug}",
                reference=_reference(run),
                idempotency_key=_reference(run),
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
            "The run could not be queued: background work is unavailable for a moment. "
            "Nothing was charged; send the request again shortly.",
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
        _fail(current, None, "The run could not be queued; its credits were given back.")
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
        return _fail(run, None, f"The run could not start: {error.message}")
    if run.hold_id is not None:
        # The run must be able to finish before its hold runs out, or the sweep would release
        # it mid-run: a run that waited too long in the queue does not start.
        deadline = run.started_at + timedelta(seconds=_timeout(service))
        if not CreditHold.objects.filter(
            pk=run.hold_id, state=HoldState.ACTIVE, expires_at__gte=deadline
        ).exists():
            return _fail(run, None, "The run waited too long in the queue and was not started.")
    try:
        clean = validate_input(service, data)
    except InvalidInput as error:
        return _fail(run, None, f"The run could not start: {error.message}")
    return _perform(service, run, clean)


def _perform(service: BaseService, run: ServiceRun, data: dict[str, Any]) -> ServiceRun:
    ctx = RunContext(user=run.user, run=run, cost=run.reserved)
    started = time.monotonic()
    try:
        output = _call_with_timeout(service, ctx, data, _timeout(service))
        output = _as_json(output)
    except Exception as error:  # noqa: BLE001 (any failure of the service is recorded, never charged)
        logger.warning("Service %s run %s failed: %s", service.slug, run.pk, error)
        failed = _fail(run, started, _describe(error))
        _hook(service.on_failure, ctx, error)
        return failed
    try:
        with transaction.atomic():
            _lock(run)
            if run.hold_id is not None:
                run.charge = ledger.capture(
                    CreditHold.objects.get(pk=run.hold_id),
                    ctx.charged,
                    reason=f"service {service.slug}",
                    idempotency_key=f"{_reference(run)}:capture",
                )
            _finish(run, started, RunStatus.SUCCEEDED, cost=ctx.charged, output=output)
    except InvalidOperation:
        # The hold is gone: the sweep released it because the run outlived it.
        run.charge = None
        failed = _fail(run, started, "The run outlived its hold; nothing was charged.")
        _hook(service.on_failure, ctx, ServiceTimeout("The run outlived its hold."))
        return failed
    _hook(service.on_success, ctx, output)
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
        raise ServiceTimeout(f"The service did not finish within {timeout} seconds.")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("output")


def _lock(run: ServiceRun) -> None:
    """Lock the run's row. Whatever finishes a held run takes this lock before the ledger's
    (the account's, the hold's), as the sweep does: a capture, a failure and the sweep never
    wait on one another in opposite orders."""
    ServiceRun.objects.select_for_update().filter(pk=run.pk).values_list("pk").first()


def _fail(run: ServiceRun, started: float | None, message: str) -> ServiceRun:
    with transaction.atomic():
        _lock(run)
        if run.hold_id is not None:
            reservation = CreditHold.objects.get(pk=run.hold_id)
            if reservation.state == HoldState.ACTIVE:
                ledger.release(
                    reservation,
                    reason="service run failed",
                    idempotency_key=f"{_reference(run)}:release",
                )
        _finish(run, started, RunStatus.FAILED, cost=Decimal(0), error=message)
    return run


def _finish(
    run: ServiceRun,
    started: float | None,
    status: str,
    *,
    cost: Decimal,
    output: Any = None,
    error: str = "",
    insert: bool = False,
    save: bool = True,
) -> None:
    run.status = status
    run.cost = cost
    run.output = output
    run.error = error[:2000]
    run.finished_at = timezone.now()
    if started is not None:
        run.duration_ms = int((time.monotonic() - started) * 1000)
    if not save:
        return
    if insert:
        _insert(run)
        return
    run.save(update_fields=_FINISHED_FIELDS)


_FINISHED_FIELDS = ["status", "cost", "output", "error", "finished_at", "duration_ms", "charge"]


_RUN_FIELDS = ServiceRun._meta.concrete_fields
_RUN_NAMES = [field.attname for field in _RUN_FIELDS]
_RUN_DEFAULTS = {
    field.attname: field.get_default() for field in _RUN_FIELDS if field.attname != "id"
}
_RUN_USER: Any = ServiceRun._meta.get_field("user")
_RUN_SERVICE: Any = ServiceRun._meta.get_field("service")


def _new_run(*, user: Any, service: Service, **values: Any) -> ServiceRun:
    """A new, unsaved run, built the way the ORM builds a row it read (the keyword constructor
    costs several times more on this hot path)."""
    row = {**_RUN_DEFAULTS, **values, "user_id": user.pk, "service_id": service.pk}
    run = ServiceRun.from_db(None, _RUN_NAMES, [row[name] for name in _RUN_NAMES])
    run._state.adding = True
    run._state.db = None
    _RUN_USER.set_cached_value(run, user)
    _RUN_SERVICE.set_cached_value(run, service)
    return run


def _insert(run: ServiceRun) -> None:
    """Write a new run whose id is already set, with a statement built once per connection.

    The ORM would compile the same INSERT on every run; values still go through each field's
    own conversion. With ``pre_save``/``post_save`` receivers for runs, the ORM does it, so
    they are sent.
    """
    if run.pk is None or _save_signals():
        run.save(force_insert=True)
        return
    conn = connections[router.db_for_write(ServiceRun)]
    plan = _insert_plan(conn)
    with conn.cursor() as cursor:
        cursor.execute(plan.values_sql, _run_values(run, plan, conn))
    run._state.adding = False
    run._state.db = conn.alias


def _insert_with_entry(run: ServiceRun) -> ledger.Companion:
    """The INSERT of a new run as a companion of its debit: ``charge`` is the entry the same
    statement writes (``quickscale_entry``)."""
    conn = connections[router.db_for_write(ServiceRun)]
    plan = _insert_plan(conn)
    values = _run_values(run, plan, conn)
    del values[plan.charge_index]
    return plan.with_entry_sql, values


def _save_signals() -> bool:
    return model_signals.pre_save.has_listeners(
        ServiceRun
    ) or model_signals.post_save.has_listeners(ServiceRun)


@dataclass(frozen=True)
class _InsertPlan:
    values_sql: str
    with_entry_sql: str
    fields: list[Any]
    #: Fields that set their own value on save (auto_now, auto_now_add).
    automatic: list[Any]
    charge_index: int
    #: Per field: the value type stored as it is (Django's own character, integer, boolean and
    #: foreign key fields), whose values skip the field's conversion, or ``None``.
    plain: list[type | None]


def _insert_plan(conn: Any) -> _InsertPlan:
    plan: _InsertPlan | None = conn.__dict__.get("_quickscale_run_insert")
    if plan is not None:
        return plan
    quote = conn.ops.quote_name
    fields = list(ServiceRun._meta.concrete_fields)
    charge: Any = ServiceRun._meta.get_field("charge")
    charge_index = fields.index(charge)
    head = (
        f"INSERT INTO {quote(ServiceRun._meta.db_table)} "
        f"({', '.join(quote(str(field.column)) for field in fields)}) "
    )
    selected = ["%s"] * len(fields)
    selected[charge_index] = f"{ledger.ENTRY_CTE}.id"
    plan = _InsertPlan(
        values_sql=head + f"VALUES ({', '.join(['%s'] * len(fields))})",
        with_entry_sql=head + f"SELECT {', '.join(selected)} FROM {ledger.ENTRY_CTE}",  # noqa: S608
        fields=fields,
        automatic=[
            field
            for field in fields
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        ],
        charge_index=charge_index,
        plain=[_PLAIN_FIELDS.get(type(field)) for field in fields],
    )
    conn.__dict__["_quickscale_run_insert"] = plan
    return plan


def _run_values(run: ServiceRun, plan: _InsertPlan, conn: Any) -> list[Any]:
    for field in plan.automatic:
        field.pre_save(run, True)
    values = []
    for field, plain in zip(plan.fields, plan.plain, strict=True):
        value = getattr(run, field.attname)
        if (
            value is not None
            and type(value) is not plain
            and not (
                plain is str and isinstance(value, str)  # a str subclass: a TextChoices member
            )
        ):
            value = field.get_db_prep_save(value, conn)
        values.append(value)
    return values


#: Field classes (exactly these, not subclasses) whose database value is the value itself when
#: it is exactly of the given type; for text fields, any ``str`` (a ``TextChoices`` member is
#: a ``str`` that the ORM passes on as it is too). An ``IntegerChoices`` member is not plain.
_PLAIN_FIELDS: dict[type, type] = {
    models.CharField: str,
    models.TextField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BigAutoField: int,
    models.AutoField: int,
    models.BooleanField: bool,
    models.ForeignKey: int,
}


class _RunFailed(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _run_inline(user: Any, prepared: Prepared, key: str | None) -> ServiceRun:
    """Run, then charge what the run said it cost and record it, all or nothing.

    On PostgreSQL, with an id reserved and no idempotency key, the debit and the run's INSERT
    are one statement. When the service sent no SQL of its own, that statement runs after the
    (empty) transaction, atomic on its own: one round trip for the whole charge and record.
    Otherwise, and for a run written first (no reserved id, or an idempotency key that a
    concurrent retry must wait on), the charge joins the transaction of the service's writes.
    """
    service = prepared.service
    started = time.monotonic()
    run = _new_run(
        id=prepared.run_id,
        user=user,
        service=prepared.entry,
        status=RunStatus.RUNNING,
        mode="inline",
        reserved=prepared.price,
        input_digest=prepared.digest,
        idempotency_key=key,
        started_at=timezone.now(),
    )
    conn = connections[router.db_for_write(ServiceRun)]
    together = run.id is not None and key is None and _along_with_charge(conn)
    outer = conn.in_atomic_block
    try:
        with transaction.atomic(using=conn.alias):
            if not together:
                _insert(run)
            ctx = RunContext(user=user, run=run, cost=prepared.price)
            try:
                output = _call_inline(service, ctx, prepared.data, started)
            except Exception as error:  # rolls the run and its writes back; recorded below
                raise _RunFailed(error) from error
            _finish(run, started, RunStatus.SUCCEEDED, cost=ctx.charged, output=output, save=False)
            later = together and not outer and not _in_transaction(conn)
            if not later:
                _charge(user, run, service, insert=together)
        if later:
            _charge(user, run, service, insert=True)
    except _RunFailed as failure:
        logger.warning("Service %s inline run failed: %s", service.slug, failure.error)
        run = ServiceRun.objects.create(
            id=prepared.run_id,
            user=user,
            service=prepared.entry,
            status=RunStatus.FAILED,
            mode="inline",
            reserved=prepared.price,
            cost=Decimal(0),
            input_digest=prepared.digest,
            idempotency_key=key,
            error=_describe(failure.error)[:2000],
            finished_at=timezone.now(),
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        _hook(
            service.on_failure, RunContext(user=user, run=run, cost=prepared.price), failure.error
        )
        return run
    _hook(service.on_success, ctx, output)
    return run


def _in_transaction(conn: Any) -> bool:
    """Whether ``conn`` has begun a transaction on the server (False: nothing was sent since
    the last commit, so an empty ``atomic`` block costs no round trip)."""
    raw = conn.connection
    if raw is None:
        return False
    info = getattr(raw, "info", None)  # psycopg 3
    if info is not None:
        return bool(info.transaction_status != 0)  # TransactionStatus.IDLE
    status = getattr(raw, "get_transaction_status", None)  # psycopg2
    return True if status is None else bool(status() != 0)


def _along_with_charge(conn: Any) -> bool:
    """Whether a run's row can be written by its debit's own statement: PostgreSQL, runs in the
    ledger's database, and no ``pre_save``/``post_save`` receivers for runs (which the ORM's
    ``save()`` must send)."""
    return (
        conn.vendor == "postgresql"
        and conn.alias == DEFAULT_DB_ALIAS  # the ledger's database
        and not _save_signals()
    )


def _charge(user: Any, run: ServiceRun, service: BaseService, *, insert: bool) -> None:
    """Debit what the finished ``run`` costs and write it: INSERT it (``insert``) or UPDATE the
    row written first, in the debit's own statement where it can be (PostgreSQL)."""
    if run.cost:
        conn = connections[router.db_for_write(ServiceRun)]
        along = insert or _along_with_charge(conn)
        if insert:
            companions = [_insert_with_entry(run)]
        else:
            companions = [_update_with_entry(run, conn)] if along else []
        charge = ledger.debit(
            user,
            run.cost,
            reason=f"service {service.slug}",
            reference=_reference(run),
            also=companions,
        )
        run.charge = charge
        run.balance_after = charge.balance_after
        if insert:
            run._state.adding = False
            run._state.db = charge._state.db
        if along:
            return
    if insert:
        _insert(run)
        return
    run.save(update_fields=_FINISHED_FIELDS)


def _update_with_entry(run: ServiceRun, conn: Any) -> ledger.Companion:
    """The UPDATE of a finished run written first, as a companion of its debit: ``charge`` is
    the entry the same statement writes (``quickscale_entry``)."""
    plan = conn.__dict__.get("_quickscale_run_finish")
    if plan is None:
        quote = conn.ops.quote_name
        table = quote(ServiceRun._meta.db_table)
        fields: list[Any] = [
            ServiceRun._meta.get_field(name) for name in _FINISHED_FIELDS if name != "charge"
        ]
        charge: Any = ServiceRun._meta.get_field("charge")
        assignments = ", ".join(f"{quote(str(field.column))} = %s" for field in fields)
        sql = (
            f"UPDATE {table} SET {assignments}, "  # noqa: S608
            f"{quote(charge.column)} = {ledger.ENTRY_CTE}.id FROM {ledger.ENTRY_CTE} "
            f"WHERE {table}.{quote(ServiceRun._meta.pk.column)} = %s"
        )
        plan = conn.__dict__["_quickscale_run_finish"] = (sql, fields)
    sql, fields = plan
    values = [field.get_db_prep_save(getattr(run, field.attname), conn) for field in fields]
    return sql, [*values, run.pk]


def _as_json(output: Any) -> Any:
    """The output as it will be stored: JSON data, which PostgreSQL's jsonb cannot hold with a
    NUL character in it."""
    text = json.dumps(output, cls=DjangoJSONEncoder, allow_nan=False)
    if "\\u0000" in text:
        raise ValueError("The output contains a NUL character, which cannot be stored.")
    return json.loads(text)


def _call_inline(
    service: BaseService, ctx: RunContext, data: dict[str, Any], started: float
) -> Any:
    """Run in the caller's thread (inside its transaction); a run past its timeout fails
    after the fact, since the transaction cannot be handed to another thread."""
    output = _as_json(service.run(ctx, data))
    if time.monotonic() - started > _timeout(service):
        raise ServiceTimeout(f"The service did not finish within {_timeout(service)} seconds.")
    return output


def _describe(error: BaseException) -> str:
    text = (
        error.message if isinstance(error, ServiceTimeout) else f"{type(error).__name__}: {error}"
    )
    return text.replace("\x00", "\\x00")


def _hook(hook: Any, ctx: RunContext, value: Any) -> None:
    """Run an ``on_success``/``on_failure`` hook; the run is already recorded, so a failing
    hook is logged with its traceback rather than turning a finished run into an error."""
    try:
        hook(ctx, value)
    except Exception:
        logger.exception("The %s hook of service run %s failed", hook.__name__, ctx.run.pk)


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
                _fail(current, None, "The run was interrupted; its credits were given back.")
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
        limit = _timeout(registry.get(run.service.slug)()) + HOLD_GRACE
    except ServiceNotFound:  # the class is gone: its runs get the default timeout
        limit = settings.QUICKSCALE_SERVICES_DEFAULT_TIMEOUT + HOLD_GRACE
    since = run.started_at if run.started_at is not None else run.created_at
    return since + timedelta(seconds=limit) <= now


def usage(user: Any, *, since: date | None = None) -> list[dict[str, Any]]:
    """Runs and credits spent per service and per day, newest day first."""
    runs = ServiceRun.objects.filter(user=user)
    if since is not None:
        runs = runs.filter(created_at__date__gte=since)
    rows = (
        runs.annotate(day=TruncDate("created_at"))
        .values("day", "service__slug", "service__name")
        .annotate(
            runs=Count("id"),
            succeeded=Count("id", filter=Q(status=RunStatus.SUCCEEDED)),
            credits=Sum("cost"),
        )
        .order_by("-day", "service__slug")
    )
    return [
        {
            "day": row["day"],
            "service": row["service__slug"],
            "name": row["service__name"],
            "runs": row["runs"],
            "succeeded": row["succeeded"],
            "credits": quantize(row["credits"] or Decimal(0)),
        }
        for row in rows
    ]

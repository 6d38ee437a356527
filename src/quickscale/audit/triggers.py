"""What PostgreSQL enforces and records by itself: the append-only guard of the audit table, and
row-level capture of chosen models.

**The guard** (the trigger ``quickscale_audit_append_only``, installed by the app's migration)
refuses every ``UPDATE`` and ``DELETE`` of an audit event, through the ORM or raw SQL, with two
exceptions: the sealing step's update, which only fills the three hash columns of an unsealed
row, and deletes made in a transaction that set ``quickscale.audit_prune`` to ``on`` (``SET
LOCAL``), which only ``manage.py audit prune`` does. A superuser can still disable the trigger:
the hash chain is what reveals such tampering.

**Row-level capture**: ``QUICKSCALE_AUDIT_TRIGGER_MODELS`` lists models whose every inserted,
updated and deleted row is recorded by an ``AFTER ... FOR EACH ROW`` trigger, so ``update()``,
``bulk_create()``, ``bulk_update()`` and raw SQL are recorded too, as ``row.inserted``,
``row.updated`` and ``row.deleted`` events whose ``changes`` (computed in SQL with ``jsonb``,
sensitive columns masked) hold ``[old, new]`` per changed column. The triggers are not part of
any migration: :func:`sync` installs and removes them to match the setting after every
``migrate`` (and ``manage.py audit triggers``). While such models are configured, statements
that write their tables first copy the current context (actor, API key, address, request id,
user agent) into transaction-local settings the trigger reads, so those events name who acted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from quickscale.audit.exceptions import InvalidAuditArgument, NotSupported
from quickscale.audit.log import COLUMNS
from quickscale.audit.models import AuditEvent
from quickscale.core.context import current

TRIGGER = "quickscale_audit_capture"
FUNCTION = "quickscale_audit_capture"
#: Transaction-local settings the capture trigger reads the context from.
CONTEXT_SETTINGS = (
    "actor_type",
    "actor_id",
    "actor_repr",
    "api_key_id",
    "ip",
    "user_agent",
    "request_id",
)

# Arguments: the target type ("app_label.modelname"), the primary key column, then the columns
# whose values are masked.
#: The capture function; its VALUES follow :data:`quickscale.audit.log.COLUMNS`, the one list of
#: the columns an event is written with (``{columns}``).
CAPTURE_SQL = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END;
    masked text[] := TG_ARGV[2:];
    changed jsonb;
BEGIN
    SELECT coalesce(jsonb_object_agg(key, CASE WHEN key = ANY(masked) THEN jsonb_build_array(
                CASE WHEN coalesce(old_row -> key, 'null') = 'null' THEN NULL
                     ELSE to_jsonb('********'::text) END,
                CASE WHEN coalesce(new_row -> key, 'null') = 'null' THEN NULL
                     ELSE to_jsonb('********'::text) END)
            ELSE jsonb_build_array(old_row -> key, new_row -> key) END), '{{}}'::jsonb)
        INTO changed
        FROM jsonb_object_keys(coalesce(new_row, old_row)) AS key
        WHERE (old_row -> key) IS DISTINCT FROM (new_row -> key);
    IF TG_OP = 'UPDATE' AND changed = '{{}}'::jsonb THEN
        RETURN NULL;
    END IF;
    INSERT INTO {events} ({columns})
    VALUES (
        CASE TG_OP WHEN 'INSERT' THEN 'row.inserted' WHEN 'UPDATE' THEN 'row.updated'
            ELSE 'row.deleted' END,
        'success',
        coalesce(current_setting('quickscale.actor_type', true), ''),
        coalesce(current_setting('quickscale.actor_id', true), ''),
        coalesce(current_setting('quickscale.actor_repr', true), ''),
        coalesce(current_setting('quickscale.api_key_id', true), ''),
        nullif(current_setting('quickscale.ip', true), '')::inet,
        coalesce(current_setting('quickscale.user_agent', true), ''),
        coalesce(current_setting('quickscale.request_id', true), ''),
        TG_ARGV[0],
        left(coalesce(coalesce(new_row, old_row) ->> TG_ARGV[1], ''), 64),
        '',
        changed,
        jsonb_build_object('table', TG_TABLE_NAME, 'captured_by', 'trigger'));
    RETURN NULL;
END
$$;
"""


# -- which models -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Captured:
    """A model of ``QUICKSCALE_AUDIT_TRIGGER_MODELS`` as its trigger sees it: its label, its
    table, its primary key column and the columns whose values are masked."""

    label: str
    table: str
    pk_column: str
    masked: tuple[str, ...]


def captured_models() -> list[Captured]:
    """The models of ``QUICKSCALE_AUDIT_TRIGGER_MODELS``, or ``InvalidAuditArgument`` naming
    one that is unknown."""
    return _resolve(
        tuple(settings.QUICKSCALE_AUDIT_TRIGGER_MODELS),
        tuple(fragment.lower() for fragment in settings.QUICKSCALE_AUDIT_MASKED_FIELDS),
    )


@functools.lru_cache(maxsize=16)
def _resolve(labels: tuple[str, ...], fragments: tuple[str, ...]) -> list[Captured]:
    found = []
    for label in labels:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            raise InvalidAuditArgument(
                f"QUICKSCALE_AUDIT_TRIGGER_MODELS names {label!r}, which is not an installed model."
            ) from None
        if model is AuditEvent:
            raise InvalidAuditArgument("The audit log cannot record its own rows.")
        fields = model._meta.concrete_fields
        masked = tuple(
            str(field.column)
            for field in fields
            if any(fragment in field.name.lower() for fragment in fragments)
        )
        found.append(Captured(model._meta.label_lower, model._meta.db_table, _pk(model), masked))
    return found


def _pk(model: type[models.Model]) -> str:
    assert model._meta.pk is not None
    return str(model._meta.pk.column)


# -- installing -------------------------------------------------------------------------------


def _require_postgresql(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor != "postgresql":
        raise NotSupported(
            "Row-level capture needs PostgreSQL; this database is "
            f"{connection.display_name}. Only events recorded by the application are kept."
        )


def installed(using: str | None = None) -> dict[str, str]:
    """``{table: trigger arguments}`` of every table that has the capture trigger."""
    connection = connections[using or router.db_for_write(AuditEvent)]
    _require_postgresql(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE t.tgname = %s AND n.nspname = ANY(current_schemas(false))",
            [TRIGGER],
        )
        return dict(cursor.fetchall())


def sync(using: str | None = None) -> tuple[list[str], list[str]]:
    """Install the capture trigger on the tables of the configured models and remove it from
    every other table; returns the tables installed on and removed from. Tables that do not
    exist yet (models not migrated) are skipped."""
    connection = connections[using or router.db_for_write(AuditEvent)]
    _require_postgresql(connection)
    wanted = {model.table: model for model in captured_models()}
    quote = connection.ops.quote_name
    added, removed = [], []
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            CAPTURE_SQL.format(
                function=FUNCTION,
                events=quote(AuditEvent._meta.db_table),
                columns=", ".join(COLUMNS),
            )
        )
        for table in installed(connection.alias):
            if table not in wanted:
                cursor.execute(f"DROP TRIGGER {TRIGGER} ON {quote(table)}")
                removed.append(table)
        for table, model in wanted.items():
            cursor.execute("SELECT to_regclass(%s)", [quote(table)])
            if cursor.fetchone()[0] is None:
                continue
            arguments = ", ".join(
                _literal(value) for value in (model.label, model.pk_column, *model.masked)
            )
            cursor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {quote(table)}")
            cursor.execute(
                f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {quote(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}({arguments})"
            )
            added.append(table)
    return added, removed


def remove(using: str | None = None) -> list[str]:
    """Remove the capture trigger from every table; returns those it was removed from."""
    connection = connections[using or router.db_for_write(AuditEvent)]
    _require_postgresql(connection)
    quote = connection.ops.quote_name
    tables = list(installed(connection.alias))
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TRIGGER {TRIGGER} ON {quote(table)}")
    return tables


def _literal(value: str) -> str:
    """A trigger argument: a SQL string literal (arguments cannot be bound parameters)."""
    return "'" + value.replace("'", "''") + "'"


def sync_after_migrate(using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """Keep the capture triggers in step with the setting after every ``migrate``."""
    if connections[using].vendor != "postgresql":
        return
    try:
        apps.get_model("quickscale_audit", "AuditEvent")
    except (AttributeError, LookupError):
        return  # migrated backwards: there is no audit table to write to
    sync(using)


# -- the context, for the triggers ----------------------------------------------------------------


def add_context_wrapper(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Install :func:`pass_context` on a new PostgreSQL connection (``connection_created``)."""
    if connection.vendor == "postgresql" and pass_context not in connection.execute_wrappers:
        connection.execute_wrappers.append(pass_context)


Execute = Callable[[str, Any, bool, dict[str, Any]], Any]


def pass_context(execute: Execute, sql: str, params: Any, many: bool, context: Any) -> Any:
    """Before a statement that writes a captured table, copy the current context into
    transaction-local settings for the capture trigger. A statement outside any transaction
    runs in one of its own, so the settings cannot outlive it (PgBouncer-safe)."""
    labels = settings.QUICKSCALE_AUDIT_TRIGGER_MODELS
    if not labels or not isinstance(sql, str) or sql[:6].upper() == "SELECT":
        return execute(sql, params, many, context)
    try:
        tables = _tables(tuple(labels))
    except InvalidAuditArgument:
        return execute(sql, params, many, context)  # reported by check quickscale_audit.E007
    if not any(table in sql for table in tables):
        return execute(sql, params, many, context)
    connection = context["connection"]
    values = _context_values()
    if connection.in_atomic_block:
        _set_context(connection, values)
        return execute(sql, params, many, context)
    with transaction.atomic(using=connection.alias):
        _set_context(connection, values)
        return execute(sql, params, many, context)


@functools.lru_cache(maxsize=16)
def _tables(labels: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(model.table for model in _resolve(labels, ()))


def _context_values() -> list[str]:
    now = current()
    actor = now.actor
    return [
        actor.type if actor else "",
        actor.id if actor else "",
        actor.label if actor else "",
        actor.api_key_id if actor else "",
        now.ip or "",
        now.user_agent,
        now.request_id,
    ]


def _set_context(connection: BaseDatabaseWrapper, values: list[str]) -> None:
    calls = ", ".join(f"set_config('quickscale.{name}', %s, true)" for name in CONTEXT_SETTINGS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [value.replace("\x00", "") for value in values])

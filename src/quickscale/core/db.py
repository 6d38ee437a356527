"""Cursors for the few statements every paid request runs.

Django's PostgreSQL backend binds parameters on the client by default: each statement reaches
the server as new text, which PostgreSQL parses and plans from scratch. For the handful of
statements on the hot path of a paid API call (the key lookup, the catalog row, the debit) that
work is a large part of what the database spends on the request. :func:`fetch_one` and
:func:`prepared_cursor` run them as prepared statements instead, with psycopg 3: each is parsed
and planned once per connection, then only bound and executed.

``QUICKSCALE_CORE_PREPARED_STATEMENTS = False`` turns this off, for a connection pooler that
does not keep prepared statements across transactions (PgBouncer in transaction mode before
1.22, or with ``max_prepared_statements = 0``). Other databases, psycopg 2 and a project whose
own ``OPTIONS`` already bind on the server get Django's usual cursor.

:class:`PreparedQuery` runs an ORM queryset that way: compiled by the ORM once per connection,
then only bound and executed, its rows made into objects as the queryset's would be.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models import query as orm_query
from django.utils.connection import ConnectionProxy

from quickscale.core.conf import settings

__all__ = ["PreparedQuery", "fetch_one", "prepared_cursor"]

M = TypeVar("M", bound=Model)

_KEPT = "_quickscale_prepared_cursor"  # where a Django connection keeps its preparing cursor
_NEVER = 2**62  # executions: how often psycopg would see a statement before it prepares it

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg 2 or no PostgreSQL driver
    psycopg = None  # type: ignore[assignment]

try:  # Django 6.1 passes the fetch mode of a queryset's objects to its select_related ones.
    from django.db.models import FETCH_ONE  # type: ignore[attr-defined,unused-ignore]

    _POPULATOR_ARGUMENTS: tuple[Any, ...] = (FETCH_ONE,)
except ImportError:  # Django 5.2 and 6.0
    _POPULATOR_ARGUMENTS = ()


if psycopg is not None:

    class _PreparedCursor(psycopg.Cursor[Any]):
        """Binds on the server and prepares every statement it executes."""

        def execute(
            self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any
        ) -> Any:
            return super().execute(query, params, prepare=True, **kwargs)


class _LoggedCursor(CursorDebugWrapper):
    """Logs a prepared statement as Django logs its own (the SQL with its parameters merged
    in), which Django's query log cannot read back from a cursor that binds on the server."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        try:
            shown = self.db.ops.compose_sql(sql, params)
        except psycopg.Error:  # parameters the client cannot quote: log the statement as sent
            shown = sql
        with self.debug_sql(shown, params):
            return CursorWrapper.execute(self, sql, params)


def fetch_one(conn: Any, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Execute ``sql`` with ``params`` on ``conn`` (a Django connection) and return its first
    row, as a prepared statement where the database and the settings allow it."""
    conn = _itself(conn)
    cursor = prepared_cursor(conn)
    cursor.execute(sql, params)
    row = cursor.fetchone()
    if cursor.cursor is not conn.__dict__.get(_KEPT):
        cursor.close()  # Django's own cursor, made for this statement
    return row


def prepared_cursor(conn: Any) -> CursorWrapper:
    """A cursor of ``conn`` (a Django connection) whose statements are prepared where the
    database and the settings allow it, else ``conn.cursor()``.

    It is wrapped the way ``conn.cursor()`` is (query log, ``execute_wrapper`` hooks, error
    translation). The database cursor under it is kept for the connection and shared by every
    caller in its thread, so use it for one statement at a time and fetch the rows before the
    next; closing it is allowed (the next call makes another).
    """
    conn = _itself(conn)
    cursor = _prepared_cursor(conn)
    if cursor is None:
        return conn.cursor()
    conn.validate_thread_sharing()  # what conn.cursor() checks
    return _LoggedCursor(cursor, conn) if conn.queries_logged else CursorWrapper(cursor, conn)


def _itself(conn: Any) -> Any:
    """The connection of this thread when given Django's ``connection`` proxy (which is shared
    by every thread, so it must not keep a cursor), else ``conn``."""
    return connections[conn.alias] if isinstance(conn, ConnectionProxy) else conn


def _prepared_cursor(conn: Any) -> Any:
    """The preparing cursor kept for ``conn``'s current database connection, or ``None``
    where statements are not to be prepared."""
    if (
        psycopg is None
        or conn.vendor != "postgresql"
        or not settings.QUICKSCALE_CORE_PREPARED_STATEMENTS
        or conn.settings_dict["OPTIONS"].get("server_side_binding") is True
    ):
        return None
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    raw = conn.connection
    kept = conn.__dict__.get(_KEPT)
    if kept is not None and kept.connection is raw and not kept.closed:
        return kept
    if not isinstance(raw, psycopg.Connection):  # pragma: no cover - psycopg 2
        return None
    if raw.prepare_threshold is None:
        # Django turns preparing off (None), which psycopg also applies to prepare=True. A
        # threshold no statement reaches turns it back on for this cursor's statements only.
        raw.prepare_threshold = _NEVER
    with conn.wrap_database_errors:
        cursor = _PreparedCursor(raw)
        # Django's cursors read timestamps in the connection's time zone (see create_cursor).
        loader = raw.adapters.get_loader(
            psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT
        )
        if loader is not None and getattr(loader, "timezone", None) != conn.timezone:
            from django.db.backends.postgresql.psycopg_any import register_tzloader

            register_tzloader(conn.timezone, cursor)
    conn.__dict__[_KEPT] = cursor
    return cursor


class PreparedQuery(Generic[M]):
    """A queryset compiled by the ORM once per connection and run as a prepared statement.

    ``build`` returns the queryset for its arguments, each a string (or, annotated ``int``, an
    integer) the query compares as it is (``filter(key_id=key_id)``, not ``key_id__iexact``)::

        BY_KEY_ID = PreparedQuery(
            lambda key_id: APIKey.objects.select_related("owner").filter(key_id=key_id)
        )
        key = BY_KEY_ID.first(key_id)

    ``build`` is called once, with a placeholder for each argument. The ORM compiles the
    queryset it returns once for each thread's connection to the database the routers read the
    model from; a call then only binds its arguments and executes the statement
    (:func:`fetch_one`), which on PostgreSQL the server has parsed and planned already. Anything
    else in the queryset is compiled in for good, so a value that changes between calls (the
    time, say) must not be part of it.

    Rows become objects as iterating the queryset makes them (Django's converters,
    ``select_related`` objects, annotations), by the compiler and the populators the ORM itself
    uses. Its documentation does not describe those (Django 6.1 added an argument to one), so
    only this class uses them, and the suite runs on every supported Django version.
    """

    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self._build = build
        self._placeholders = tuple(
            _placeholder(number, parameter)
            for number, parameter in enumerate(inspect.signature(build).parameters.values())
        )
        self._template: QuerySet[M] | None = None
        self._compiled = threading.local()  # alias -> _Compiled, for this thread's connections

    def first(self, *args: str | int) -> M | None:
        """The first object of the queryset for ``args`` (in its order), or ``None``."""
        if len(args) != len(self._placeholders):
            raise TypeError(f"{len(self._placeholders)} arguments expected, got {len(args)}.")
        compiled = self._compiled_for_this_thread()
        row = fetch_one(compiled.connection, compiled.sql, compiled.bind(args))
        return None if row is None else compiled.instance(row)

    def _compiled_for_this_thread(self) -> _Compiled:
        if self._template is None:
            self._template = self._build(*self._placeholders)
        conn = connections[self._template.db]
        compiled: _Compiled | None = vars(self._compiled).get(conn.alias)
        if compiled is None or compiled.connection is not conn:  # new settings, new connection
            compiled = _Compiled(self._template, conn, self._placeholders)
            setattr(self._compiled, conn.alias, compiled)
        return compiled


class _Placeholder(str):
    """An argument of a :class:`PreparedQuery` while it is compiled: a string the fields pass
    on as they are, found in the compiled parameters by identity."""

    __slots__ = ()


#: Integer arguments stand for themselves while the query is compiled: values no real argument
#: of the query shares, that fit any integer column (fields refuse values out of their range).
_FIRST_INTEGER_PLACEHOLDER = 2_147_480_000


def _placeholder(number: int, parameter: inspect.Parameter) -> Any:
    """The stand-in for one argument of ``build``: an integer for a parameter annotated
    ``int``, else a :class:`_Placeholder` string."""
    if parameter.annotation in (int, "int"):
        return _FIRST_INTEGER_PLACEHOLDER + number
    return _Placeholder(f"quickscale-placeholder-{parameter.name}")


def _is(param: Any, placeholder: Any) -> bool:
    """Whether a compiled parameter is ``placeholder`` (a string by identity, an integer by
    value: fields convert integers to new objects)."""
    if isinstance(placeholder, _Placeholder):
        return param is placeholder
    return type(param) is int and param == placeholder


class _Compiled:
    """A queryset compiled for one connection: its SQL, where its arguments go, and what makes
    objects of its rows (what ``ModelIterable`` computes for each evaluation of a queryset)."""

    def __init__(self, queryset: QuerySet[Any], conn: Any, placeholders: Sequence[Any]) -> None:
        compiler: Any = queryset.query.get_compiler(connection=conn)
        sql, params = compiler.as_sql()  # query.sql_with_params(), for this connection
        slots = [
            [index for index, param in enumerate(params) if _is(param, placeholder)]
            for placeholder in placeholders
        ]
        if any(len(found) != 1 for found in slots):
            raise ValueError(
                "Each argument of a PreparedQuery must reach its SQL once and unchanged "
                "(a string or an integer compared as it is, e.g. filter(field=argument))."
            )
        self.connection = conn
        self.sql = sql
        self.params = list(params)
        self.slots = [found[0] for found in slots]
        self.compiler = compiler
        # What results_iter() works out again for every evaluation of a queryset.
        self.columns = [column[0] for column in compiler.select[: compiler.col_count]]
        self.converters = compiler.get_converters(self.columns)
        self.composite = compiler.has_composite_fields(self.columns)
        self.model = compiler.klass_info["model"]
        select_fields = compiler.klass_info["select_fields"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.names = [column[0].target.attname for column in compiler.select[self.start : self.end]]
        self.populators = _related_populators(compiler, conn.alias)
        self.annotations = dict(compiler.annotation_col_map)

    def bind(self, args: Sequence[str | int]) -> list[Any]:
        """The statement's parameters with ``args`` in their places."""
        params = self.params.copy()
        for slot, value in zip(self.slots, args, strict=True):
            params[slot] = value
        return params

    def instance(self, row: tuple[Any, ...]) -> Any:
        """The object of ``row``, with its ``select_related`` objects and annotations."""
        rows: Any = [row]
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        if self.composite:
            rows = self.compiler.composite_fields_to_tuples(rows, self.columns)
        (values,) = rows
        obj = self.model.from_db(self.connection.alias, self.names, values[self.start : self.end])
        for populator in self.populators:
            populator.populate(values, obj)
        for name, index in self.annotations.items():
            setattr(obj, name, values[index])
        return obj


def _related_populators(compiler: Any, alias: str) -> list[Any]:
    """What makes the ``select_related`` objects of a row, as ``ModelIterable`` gets it (with
    the default fetch mode, ``FETCH_ONE``, on Django 6.1)."""
    populators: Any = orm_query.get_related_populators
    return list(populators(compiler.klass_info, compiler.select, alias, *_POPULATOR_ARGUMENTS))

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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils.connection import ConnectionProxy

from quickscale.core.conf import settings

__all__ = ["fetch_one", "prepared_cursor"]

_KEPT = "_quickscale_prepared_cursor"  # where a Django connection keeps its preparing cursor
_NEVER = 2**62  # executions: how often psycopg would see a statement before it prepares it

try:
    import psycopg
except ImportError:  # pragma: no cover - psycopg 2 or no PostgreSQL driver
    psycopg = None  # type: ignore[assignment]


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

"""What a connection really sends to PostgreSQL: libpq's protocol trace (psycopg 3).

Django's query log lists ``BEGIN``/``COMMIT`` even when psycopg sends neither (an ``atomic``
block that ran no SQL), so counting round trips needs the wire."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Wire:
    def __init__(self) -> None:
        self.lines: list[str] = []

    @property
    def round_trips(self) -> int:
        """Answers the server gave that it is ready for more: one per round trip."""
        return sum(1 for line in self.lines if line.startswith("B\t") and "ReadyForQuery" in line)

    @property
    def sent(self) -> list[str]:
        """The statements sent, in order (``BEGIN`` and ``COMMIT`` included when they were)."""
        found = []
        for line in self.lines:
            fields = line.split("\t")
            if fields[0] == "F" and fields[2] in ("Query", "Parse"):
                found.append(fields[3].strip())
        return found


@contextmanager
def wire(connection: Any) -> Iterator[Wire]:
    """Trace what ``connection`` (a Django connection on psycopg 3) sends and receives."""
    from psycopg.pq import Trace

    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    seen = Wire()
    with tempfile.TemporaryFile() as log:
        pgconn.trace(log.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield seen
        finally:
            pgconn.untrace()
            log.seek(0)
            seen.lines = log.read().decode(errors="replace").splitlines()

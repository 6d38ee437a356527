"""What a connection really sends to PostgreSQL: libpq's protocol trace (psycopg 3).

Django's query log lists ``BEGIN``/``COMMIT`` even when psycopg sends neither (an ``atomic``
block that ran no SQL), so counting round trips needs the wire."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Wire:
    def __init__(self, prepared: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        #: Statements prepared before the trace began, by name.
        self.prepared = dict(prepared or {})

    @property
    def round_trips(self) -> int:
        """Answers the server gave that it is ready for more: one per round trip."""
        return sum(1 for line in self.lines if line.startswith("B\t") and "ReadyForQuery" in line)

    @property
    def sent(self) -> list[str]:
        """The statements executed, in order (``BEGIN`` and ``COMMIT`` included when they were
        sent), a prepared one each time it was bound and executed."""
        names = dict(self.prepared)
        found = []
        for line in self.lines:
            fields = line.split("\t")
            if fields[0] != "F":
                continue
            if fields[2] == "Query":
                found.append(_between_quotes(fields[3]))
            elif fields[2] == "Parse":
                name, _, rest = fields[3].strip().removeprefix('"').partition('"')
                names[name] = _between_quotes(rest)
            elif fields[2] == "Bind":
                found.append(names[re.findall(r'"([^"]*)"', fields[3])[1]])
        return found


def _between_quotes(text: str) -> str:
    """A statement as the trace shows it: between the first and the last double quote (the
    trace does not escape the quotes of quoted identifiers)."""
    return text[text.index('"') + 1 : text.rindex('"')]


@contextmanager
def wire(connection: Any) -> Iterator[Wire]:
    """Trace what ``connection`` (a Django connection on psycopg 3) sends and receives."""
    from psycopg.pq import Trace

    connection.ensure_connection()
    raw = connection.connection
    prepared = dict(raw.execute("SELECT name, statement FROM pg_prepared_statements").fetchall())
    pgconn = raw.pgconn
    seen = Wire(prepared)
    with tempfile.TemporaryFile() as log:
        pgconn.trace(log.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield seen
        finally:
            pgconn.untrace()
            log.seek(0)
            seen.lines = log.read().decode(errors="replace").splitlines()

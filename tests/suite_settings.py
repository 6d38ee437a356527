"""The settings pytest runs the suite with: :mod:`tests.settings`, after starting throw-away
PostgreSQL and Redis servers for an unset ``DATABASE_URL`` or ``REDIS_URL``
(:func:`tests.servers.start_for_the_suite`). Subprocesses the tests start use
:mod:`tests.settings` with the variables this set."""

from tests.servers import start_for_the_suite

start_for_the_suite()

from tests.settings import *  # noqa: E402, F403

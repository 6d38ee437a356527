"""The ledger's background task: run it periodically (e.g. every minute) from any scheduler.

``sweep_credits.enqueue()`` expires due grants and releases holds whose work crashed or timed
out. It needs ``django.tasks`` (Django 6) or the ``django-tasks`` backport (the ``tasks``
extra); without either, call ``quickscale.credits.ledger.sweep()`` or ``manage.py credits
expire`` instead.
"""

from __future__ import annotations

from quickscale.core.tasks import task
from quickscale.credits import ledger

if task is not None:

    @task()
    def sweep_credits() -> dict[str, int]:
        """Expire due grants and release the holds that ran out; returns how many of each."""
        return ledger.sweep()

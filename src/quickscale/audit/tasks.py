"""The audit log's background task: run it periodically (e.g. every minute) from any scheduler.

``seal_audit_log.enqueue()`` seals every event not sealed yet (see :mod:`quickscale.audit.chain`).
It needs ``django.tasks`` (Django 6) or the ``django-tasks`` backport (the ``tasks`` extra);
without either, run ``manage.py audit seal`` from cron instead.
"""

from __future__ import annotations

from quickscale.audit import chain
from quickscale.core.context import Actor, context, new_request_id
from quickscale.core.tasks import task

if task is not None:

    @task()
    def seal_audit_log() -> int:
        """Seal every event not sealed yet, as the system; returns how many were sealed."""
        with context(actor=Actor.system("task seal_audit_log"), request_id=new_request_id()):
            return chain.seal()

from __future__ import annotations

from datetime import datetime

from django.apps import AppConfig
from django.core import checks
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from quickscale.core import maintenance
from quickscale.core.checks import layout_check


class AuditConfig(AppConfig):
    """Registers the audit log's system checks and receivers, keeps its capture triggers in
    step after each ``migrate``, hands the context to new PostgreSQL connections and adds
    sealing to the maintenance sweep."""

    name = "quickscale.audit"
    label = "quickscale_audit"
    verbose_name = _("QuickScale audit log")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.audit import conf  # noqa: F401  (installs the defaults)
        from quickscale.audit.checks import check_database, check_settings
        from quickscale.audit.receivers import connect
        from quickscale.audit.triggers import add_context_wrapper, sync_after_migrate

        checks.register(layout_check(self.name, "quickscale_audit.E008"), checks.Tags.compatibility)
        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_database, checks.Tags.database)
        connect()
        post_migrate.connect(sync_after_migrate, sender=self)
        connection_created.connect(add_context_wrapper, dispatch_uid="quickscale_audit.context")
        maintenance.register("audit", seal_log, order=90)


def seal_log(now: datetime) -> dict[str, int]:
    """The audit log's part of the sweep: seal the events written since the last one."""
    from quickscale.audit import chain

    return {"sealed": chain.seal()}

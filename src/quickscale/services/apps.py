from __future__ import annotations

from datetime import datetime
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from quickscale.core import maintenance
from quickscale.core.checks import dependency_check


class ServicesConfig(AppConfig):
    """Registers the services' system checks, imports every app's ``services.py`` (unless
    ``QUICKSCALE_SERVICES_AUTODISCOVER`` is off), keeps the catalog in step after each
    ``migrate`` and adds the services' part of the maintenance sweep."""

    name = "quickscale.services"
    label = "quickscale_services"
    verbose_name = _("QuickScale services")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.services import conf  # noqa: F401  (installs the defaults)
        from quickscale.services.checks import check_registry, check_routing, check_settings
        from quickscale.services.registry import autodiscover

        checks.register(
            dependency_check(self.name, [("quickscale.credits", "quickscale_services.E001")]),
            checks.Tags.compatibility,
        )
        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_registry, checks.Tags.compatibility)
        checks.register(check_routing, checks.Tags.compatibility)
        if settings.QUICKSCALE_SERVICES_AUTODISCOVER is True:
            autodiscover()
        post_migrate.connect(sync_after_migrate, sender=self)
        maintenance.register("services", sweep_services, order=10)


def sweep_services(now: datetime) -> dict[str, int]:
    """The services' part of the sweep: fail the runs that can no longer finish."""
    from quickscale.services.execution import sweep_runs

    return {"failed_runs": sweep_runs(now=now)}


def sync_after_migrate(using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    """Keep the catalog in step with the registered services after every ``migrate``."""
    try:
        apps.get_model("quickscale_services", "Service")
    except (AttributeError, LookupError):
        return  # migrated backwards, or only part of the way: there is no catalog table yet
    from quickscale.services.execution import sync_catalog

    sync_catalog(using=using)

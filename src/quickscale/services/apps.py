from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from quickscale.core.checks import dependency_check


class ServicesConfig(AppConfig):
    name = "quickscale.services"
    label = "quickscale_services"
    verbose_name = "QuickScale services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.services import conf  # noqa: F401  (installs the defaults)
        from quickscale.services.checks import check_settings

        checks.register(
            dependency_check(self.name, [("quickscale.credits", "quickscale_services.E001")]),
            checks.Tags.compatibility,
        )
        checks.register(check_settings, checks.Tags.compatibility)

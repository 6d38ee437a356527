from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """Installs core's settings and registers its system checks, those of ``check --deploy``
    included."""

    name = "quickscale.core"
    label = "quickscale_core"
    verbose_name = _("QuickScale core")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.core import conf  # noqa: F401  (installs the defaults)
        from quickscale.core.checks import check_deployment, check_settings

        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_deployment, deploy=True)

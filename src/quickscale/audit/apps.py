from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class AuditConfig(AppConfig):
    name = "quickscale.audit"
    label = "quickscale_audit"
    verbose_name = "QuickScale audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.audit import conf  # noqa: F401  (installs the defaults)
        from quickscale.audit.checks import check_settings

        checks.register(check_settings, checks.Tags.compatibility)

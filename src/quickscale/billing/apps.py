from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from quickscale.core.checks import dependency_check


class BillingConfig(AppConfig):
    name = "quickscale.billing"
    label = "quickscale_billing"
    verbose_name = "QuickScale billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.billing import conf  # noqa: F401  (installs the defaults)
        from quickscale.billing.checks import check_settings

        checks.register(
            dependency_check(self.name, [("quickscale.credits", "quickscale_billing.E001")]),
            checks.Tags.compatibility,
        )
        checks.register(check_settings, checks.Tags.compatibility)

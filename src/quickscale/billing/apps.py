from __future__ import annotations

from datetime import datetime

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from quickscale.core import maintenance
from quickscale.core.checks import dependency_check, layout_check


class BillingConfig(AppConfig):
    """Registers billing's system checks and its part of the maintenance sweep."""

    name = "quickscale.billing"
    label = "quickscale_billing"
    verbose_name = _("QuickScale billing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.billing import (
            conf,  # noqa: F401  (installs the defaults)
            events,
        )
        from quickscale.billing.checks import check_settings

        events.connect()

        checks.register(
            dependency_check(self.name, [("quickscale.credits", "quickscale_billing.E001")]),
            checks.Tags.compatibility,
        )
        checks.register(
            layout_check(self.name, "quickscale_billing.E012"), checks.Tags.compatibility
        )
        checks.register(check_settings, checks.Tags.compatibility)
        maintenance.register("billing", sweep_billing, order=30)


def sweep_billing(now: datetime) -> dict[str, int]:
    """Billing's part of the sweep: the webhook events a crash or an outage left unfinished."""
    from quickscale.billing.handlers import sweep_events

    return sweep_events(now)

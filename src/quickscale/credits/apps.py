from __future__ import annotations

from datetime import datetime

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from quickscale.core import maintenance


class CreditsConfig(AppConfig):
    """Registers the ledger's system checks (its settings, the routing of its tables, the
    database) and its part of the maintenance sweep."""

    name = "quickscale.credits"
    label = "quickscale_credits"
    verbose_name = _("QuickScale credits")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.credits import conf  # noqa: F401  (installs the defaults)
        from quickscale.credits.checks import check_database, check_routing, check_settings

        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_routing, checks.Tags.compatibility)
        checks.register(check_database, checks.Tags.database)
        maintenance.register("credits", sweep_credits, order=20)


def sweep_credits(now: datetime) -> dict[str, int]:
    """The ledger's part of the sweep: expire due grants, release holds that ran out."""
    from quickscale.credits import ledger

    return ledger.sweep(now=now)

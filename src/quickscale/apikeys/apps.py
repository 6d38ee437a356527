from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from quickscale.core.checks import layout_check


class APIKeysConfig(AppConfig):
    """Installs the settings' defaults, the audit events and the system checks (the keys page
    needs ``quickscale.core``'s layout: ``quickscale_apikeys.E012``)."""

    name = "quickscale.apikeys"
    label = "quickscale_apikeys"
    verbose_name = _("QuickScale API keys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.apikeys import (
            conf,  # noqa: F401  (installs the defaults)
            events,
        )
        from quickscale.apikeys.checks import check_deployment, check_settings

        events.connect()

        checks.register(
            layout_check(self.name, "quickscale_apikeys.E012"), checks.Tags.compatibility
        )
        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_deployment, checks.Tags.security, deploy=True)

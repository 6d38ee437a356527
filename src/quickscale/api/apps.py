from __future__ import annotations

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from quickscale.core.checks import dependency_check, layout_check


class APIConfig(AppConfig):
    """Registers the API's system checks: the apps it needs (``quickscale.core`` for the
    documentation page's layout included), its settings, the key middleware."""

    name = "quickscale.api"
    label = "quickscale_api"
    verbose_name = _("QuickScale API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quickscale.api import conf  # noqa: F401  (installs the defaults)
        from quickscale.api.checks import check_jsonschema, check_middleware, check_settings

        checks.register(
            dependency_check(
                self.name,
                [
                    ("quickscale.credits", "quickscale_api.E001"),
                    ("quickscale.services", "quickscale_api.E002"),
                    ("quickscale.apikeys", "quickscale_api.E003"),
                ],
            ),
            checks.Tags.compatibility,
        )
        checks.register(layout_check(self.name, "quickscale_api.E009"), checks.Tags.compatibility)
        checks.register(check_settings, checks.Tags.compatibility)
        checks.register(check_middleware, checks.Tags.compatibility)
        checks.register(check_jsonschema, checks.Tags.compatibility)

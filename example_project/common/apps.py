from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    """What every page shares: the layout, the error pages, the feature flags and the charts."""

    name = "common"
    verbose_name = _("Common")

    def ready(self) -> None:
        from django.apps import apps

        from common.sites import sync_site

        # After the sites app's own receiver, which makes the "example.com" site.
        sites = apps.get_app_config("sites")
        post_migrate.connect(sync_site, sender=sites, dispatch_uid="common.sync_site")

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoServicesConfig(AppConfig):
    """Paid services the example site sells; ``services.py`` is all the framework needs."""

    name = "demo_services"
    verbose_name = _("Demo services")

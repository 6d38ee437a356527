from __future__ import annotations

from django.apps import AppConfig


class DemoServicesConfig(AppConfig):
    """Paid services the example site sells; ``services.py`` is all the framework needs."""

    name = "demo_services"
    verbose_name = "Demo services"

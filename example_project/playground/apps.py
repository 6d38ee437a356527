from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlaygroundConfig(AppConfig):
    """``/services/``: every paid service with its price and its own form, to try in the browser."""

    name = "playground"
    verbose_name = _("Service playground")

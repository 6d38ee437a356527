from __future__ import annotations

from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    """``/services/``: every paid service with its price and its own form, to try in the browser."""

    name = "playground"
    verbose_name = "Service playground"

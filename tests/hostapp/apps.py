from __future__ import annotations

from django.apps import AppConfig


class HostAppConfig(AppConfig):
    """A stand-in for a host project's app: its ``services.py`` is all it adds."""

    name = "tests.hostapp"
    label = "hostapp"

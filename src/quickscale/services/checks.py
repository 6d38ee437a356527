"""System checks for the settings of ``quickscale.services``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    if not isinstance(settings.QUICKSCALE_SERVICES_AUTODISCOVER, bool):
        errors.append(
            checks.Error(
                "QUICKSCALE_SERVICES_AUTODISCOVER must be True or False, "
                f"not {settings.QUICKSCALE_SERVICES_AUTODISCOVER!r}.",
                id="quickscale_services.E002",
            )
        )
    error = integer_setting_error(
        "QUICKSCALE_SERVICES_DEFAULT_TIMEOUT", "quickscale_services.E003", minimum=1
    )
    if error is not None:
        errors.append(error)
    return errors

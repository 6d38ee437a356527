"""System checks for the settings of ``quickscale.api``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors = [
        error
        for error in (
            integer_setting_error("QUICKSCALE_API_PAGE_SIZE", "quickscale_api.E004", minimum=1),
            integer_setting_error("QUICKSCALE_API_MAX_PAGE_SIZE", "quickscale_api.E005", minimum=1),
        )
        if error is not None
    ]
    if not errors and settings.QUICKSCALE_API_PAGE_SIZE > settings.QUICKSCALE_API_MAX_PAGE_SIZE:
        errors.append(
            checks.Error(
                "QUICKSCALE_API_PAGE_SIZE must not exceed QUICKSCALE_API_MAX_PAGE_SIZE.",
                id="quickscale_api.E006",
            )
        )
    return errors

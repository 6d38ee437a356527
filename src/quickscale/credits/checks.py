"""System checks for the settings of ``quickscale.credits``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core import checks

from quickscale.core.checks import integer_setting_error


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    return [
        error
        for error in (
            integer_setting_error(
                "QUICKSCALE_CREDITS_DECIMAL_PLACES", "quickscale_credits.E001", minimum=0, maximum=8
            ),
            integer_setting_error(
                "QUICKSCALE_CREDITS_HOLD_TIMEOUT", "quickscale_credits.E002", minimum=1
            ),
        )
        if error is not None
    ]

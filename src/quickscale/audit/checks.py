"""System checks for the settings of ``quickscale.audit``."""

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
                "QUICKSCALE_AUDIT_SEAL_BATCH_SIZE", "quickscale_audit.E001", minimum=1
            ),
            integer_setting_error(
                "QUICKSCALE_AUDIT_RETENTION_DAYS",
                "quickscale_audit.E002",
                minimum=1,
                allow_none=True,
            ),
        )
        if error is not None
    ]

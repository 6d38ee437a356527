"""System checks for the settings of ``quickscale.apikeys``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

PREFIX_RE = re.compile(r"[a-z][a-z0-9]{1,15}")


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    prefix = settings.QUICKSCALE_APIKEYS_PREFIX
    if not isinstance(prefix, str) or not PREFIX_RE.fullmatch(prefix):
        errors.append(
            checks.Error(
                f"QUICKSCALE_APIKEYS_PREFIX must be 2-16 lowercase letters or digits "
                f"starting with a letter, not {prefix!r}.",
                id="quickscale_apikeys.E001",
            )
        )
    paths = settings.QUICKSCALE_APIKEYS_PATH_PREFIXES
    if (
        isinstance(paths, str)
        or not isinstance(paths, (list, tuple))
        or not all(isinstance(p, str) and p.startswith("/") for p in paths)
    ):
        errors.append(
            checks.Error(
                "QUICKSCALE_APIKEYS_PATH_PREFIXES must be a list of paths starting with '/', "
                f"not {paths!r}.",
                id="quickscale_apikeys.E002",
            )
        )
    return errors

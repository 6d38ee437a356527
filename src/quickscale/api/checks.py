"""System checks for the settings of ``quickscale.api``."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error

KEY_MIDDLEWARE = "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The page sizes: whole numbers of at least 1, the default no larger than the maximum."""
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


def check_middleware(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The API authenticates with the key middleware, which must come after Django's: that one
    sets ``request.user`` from the session and would replace the key's owner."""
    middleware = list(settings.MIDDLEWARE)
    if KEY_MIDDLEWARE not in middleware:
        return [
            checks.Error(
                f"quickscale.api needs {KEY_MIDDLEWARE!r} in MIDDLEWARE.",
                hint=f"Add it to MIDDLEWARE right after {AUTH_MIDDLEWARE!r}.",
                id="quickscale_api.E007",
            )
        ]
    if AUTH_MIDDLEWARE in middleware and middleware.index(AUTH_MIDDLEWARE) > middleware.index(
        KEY_MIDDLEWARE
    ):
        return [
            checks.Error(
                f"{KEY_MIDDLEWARE!r} comes before {AUTH_MIDDLEWARE!r} in MIDDLEWARE, which then "
                "replaces the API key's user with the session's.",
                hint=f"Move it right after {AUTH_MIDDLEWARE!r}.",
                id="quickscale_api.E008",
            )
        ]
    return []


def check_jsonschema(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The API validates request bodies with ``jsonschema``, which comes with the ``api`` extra
    (``pip install "django-quickscale[api]"``)."""
    if importlib.util.find_spec("jsonschema") is not None:
        return []
    return [
        checks.Error(
            "quickscale.api needs the jsonschema package to validate request bodies.",
            hint='Install the api extra: pip install "django-quickscale[api]".',
            id="quickscale_api.E010",
        )
    ]

"""Read the settings from the environment, so one settings module serves every deployment.

``QUICKSCALE_ENV`` selects the mode: ``development`` (the default, so a fresh clone runs with no
set-up) or ``production``. Production has no fallbacks for secrets or host names: a missing
``SECRET_KEY``, ``ALLOWED_HOSTS`` or ``API_KEY_PEPPER`` stops start-up with
``ImproperlyConfigured`` naming the variable, instead of quietly running with a development
default.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

MODES = ("development", "production")
TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off"})


def missing(name: str) -> ImproperlyConfigured:
    """The error for a variable that production cannot run without."""
    return ImproperlyConfigured(
        f"The {name} environment variable must be set when QUICKSCALE_ENV=production."
    )


def get_env(name: str, default: str = "", *, required: bool = False) -> str:
    """The variable's value; blank counts as unset so ``SECRET_KEY=`` cannot slip through.

    Settings pass ``required=is_production()`` for values that have no safe production default.
    """
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if required:
        raise missing(name)
    return default


def env_bool(name: str, default: bool) -> bool:
    """A boolean flag; a value that is not clearly true or false is an error, not ``False``."""
    value = get_env(name).lower()
    if not value:
        return default
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"{name} must be true or false (1/0, yes/no, on/off), not {value!r}."
    )


def env_int(name: str, default: int) -> int:
    """An integer such as a port or a number of seconds."""
    value = get_env(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None


def env_list(name: str, default: list[str], *, required: bool = False) -> list[str]:
    """A comma-separated list, e.g. ``ALLOWED_HOSTS=example.com,www.example.com``."""
    items = [item.strip() for item in get_env(name).split(",") if item.strip()]
    if items:
        return items
    if required:
        raise missing(name)
    return list(default)


def is_production() -> bool:
    """Whether ``QUICKSCALE_ENV=production``; a misspelt mode is an error, never development."""
    mode = get_env("QUICKSCALE_ENV", "development").lower()
    if mode not in MODES:
        raise ImproperlyConfigured(
            f"QUICKSCALE_ENV must be 'development' or 'production', not {mode!r}."
        )
    return mode == "production"

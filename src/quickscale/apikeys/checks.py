"""System checks for the settings of ``quickscale.apikeys``, and for deployments of it
(``check --deploy``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error

PREFIX_RE = re.compile(r"[a-z][a-z0-9]{1,15}")


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every ``QUICKSCALE_APIKEYS_*`` setting has a value the app can use (E001 and on)."""
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
    public = settings.QUICKSCALE_APIKEYS_PUBLIC_PATHS
    if (
        isinstance(public, str)
        or not isinstance(public, (list, tuple))
        or not all(isinstance(p, str) and p.startswith("/") for p in public)
    ):
        errors.append(
            checks.Error(
                "QUICKSCALE_APIKEYS_PUBLIC_PATHS must be a list of paths starting with '/', "
                f"not {public!r}.",
                id="quickscale_apikeys.E003",
            )
        )
    peppers = settings.QUICKSCALE_APIKEYS_PEPPERS
    if not isinstance(peppers, dict) or not all(
        isinstance(version, int)
        and not isinstance(version, bool)
        and version > 0
        and isinstance(value, str)
        and len(value) >= 32
        for version, value in peppers.items()
    ):
        errors.append(
            checks.Error(
                "QUICKSCALE_APIKEYS_PEPPERS must map positive integer versions to secrets of at "
                "least 32 characters.",
                hint='For example {1: os.environ["API_KEY_PEPPER"]}.',
                id="quickscale_apikeys.E004",
            )
        )
    version = settings.QUICKSCALE_APIKEYS_PEPPER_VERSION
    if version is not None and (not isinstance(peppers, dict) or version not in peppers):
        errors.append(
            checks.Error(
                f"QUICKSCALE_APIKEYS_PEPPER_VERSION is {version!r}, which is not a version in "
                "QUICKSCALE_APIKEYS_PEPPERS.",
                id="quickscale_apikeys.E005",
            )
        )
    for name, check_id, minimum in (
        ("QUICKSCALE_APIKEYS_RATE_LIMIT", "quickscale_apikeys.E006", 1),
        ("QUICKSCALE_APIKEYS_FAILED_AUTH_LIMIT", "quickscale_apikeys.E007", 1),
        ("QUICKSCALE_APIKEYS_ROLL_GRACE", "quickscale_apikeys.E008", 0),
    ):
        error = integer_setting_error(name, check_id, minimum=minimum)
        if error is not None:
            errors.append(error)
    lease = settings.QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE
    if isinstance(lease, bool) or not isinstance(lease, (int, float)) or not 0 <= lease < 1:
        errors.append(
            checks.Error(
                f"QUICKSCALE_APIKEYS_RATE_LIMIT_LEASE is {lease!r}, which is not a number from 0 "
                "up to (not including) 1.",
                hint="Use a small share such as 0.01, or 0 to count every request.",
                id="quickscale_apikeys.E010",
            )
        )
    fail_open = settings.QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN
    if not isinstance(fail_open, bool):
        errors.append(
            checks.Error(
                f"QUICKSCALE_APIKEYS_RATE_LIMIT_FAIL_OPEN is {fail_open!r}, which is not True "
                "or False.",
                hint="True serves requests uncounted while the rate limits' cache is down; False "
                "answers them with 503.",
                id="quickscale_apikeys.E011",
            )
        )
    if settings.QUICKSCALE_APIKEYS_CACHE not in settings.CACHES:
        errors.append(
            checks.Error(
                f"QUICKSCALE_APIKEYS_CACHE is {settings.QUICKSCALE_APIKEYS_CACHE!r}, which is not "
                "an alias in CACHES.",
                id="quickscale_apikeys.E009",
            )
        )
    return errors


#: Caches each process keeps for itself (or not at all), by their ``BACKEND`` path.
PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "keeps counts in each process's memory",
    "django.core.cache.backends.dummy.DummyCache": "keeps no counts at all",
}


def check_deployment(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: rate limits counted per process, and a pepper derived from
    ``SECRET_KEY``."""
    messages: list[checks.CheckMessage] = []
    alias = settings.QUICKSCALE_APIKEYS_CACHE
    backend = str(settings.CACHES.get(alias, {}).get("BACKEND", ""))  # no alias: E009 says so
    if backend in PROCESS_LOCAL_CACHES:
        messages.append(
            checks.Warning(
                f"API key rate limits count in the cache {alias!r} ({backend}), which "
                f"{PROCESS_LOCAL_CACHES[backend]}: with several web processes, a key gets its "
                "limit from each of them.",
                hint=f"Set CACHES[{alias!r}] to a cache every process shares, such as "
                "django.core.cache.backends.redis.RedisCache, or name one in "
                "QUICKSCALE_APIKEYS_CACHE.",
                id="quickscale_apikeys.W001",
            )
        )
    if not settings.QUICKSCALE_APIKEYS_PEPPERS:
        messages.append(
            checks.Warning(
                "API keys are hashed with a pepper derived from SECRET_KEY, as "
                "QUICKSCALE_APIKEYS_PEPPERS is not set: rotating SECRET_KEY invalidates every "
                "API key.",
                hint='Set QUICKSCALE_APIKEYS_PEPPERS = {1: os.environ["API_KEY_PEPPER"]}, a '
                "random secret of at least 32 characters kept apart from SECRET_KEY (e.g. from "
                "secrets.token_urlsafe(48)). Keys made before then stop working: set it before "
                "issuing keys, or have their owners roll them.",
                id="quickscale_apikeys.W002",
            )
        )
    return messages

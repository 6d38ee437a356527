"""System check helpers shared by the quickscale apps, and the checks of ``quickscale.core``.

Every check reads settings at call time and names the exact setting or app that is wrong.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import get_template

Check = Callable[..., list[checks.CheckMessage]]


def dependency_check(app_name: str, requires: Sequence[tuple[str, str]]) -> Check:
    """Build a check that reports each required app missing from ``INSTALLED_APPS``.

    ``requires`` pairs each required app with the id reported when it is absent, e.g.
    ``[("quickscale.credits", "quickscale_services.E001")]``. Apps that depend on another keep
    every import of it inside functions, so a missing app surfaces here, never as an ImportError.
    """

    def check_dependencies(**kwargs: Any) -> list[checks.CheckMessage]:
        return [
            checks.Error(
                f"{app_name} requires {required!r}, which is not in INSTALLED_APPS.",
                hint=f"Add {required!r} to INSTALLED_APPS.",
                id=check_id,
            )
            for required, check_id in requires
            if not apps.is_installed(required)
        ]

    return check_dependencies


#: The layout every page of the apps extends; it lives in ``quickscale.core``.
LAYOUT_TEMPLATE = "quickscale/base.html"


def layout_check(app_name: str, check_id: str) -> Check:
    """Build a check that reports ``quickscale.core`` missing from ``INSTALLED_APPS`` for an app
    whose pages extend :data:`LAYOUT_TEMPLATE`, which core ships. A project that supplies that
    template itself (in ``TEMPLATES["DIRS"]`` or an app of its own) needs no core: its pages
    render without it, so nothing is reported."""

    def check_layout(**kwargs: Any) -> list[checks.CheckMessage]:
        if apps.is_installed("quickscale.core") or template_exists(LAYOUT_TEMPLATE):
            return []
        return [
            checks.Error(
                f"{app_name} requires 'quickscale.core', which is not in INSTALLED_APPS: "
                f"its pages extend {LAYOUT_TEMPLATE!r}, which quickscale.core provides.",
                hint="Add 'quickscale.core' to INSTALLED_APPS, or provide a "
                f"{LAYOUT_TEMPLATE!r} template of your own.",
                id=check_id,
            )
        ]

    return check_layout


def template_exists(name: str) -> bool:
    """Whether a template engine of the project finds the template ``name`` (one that does not
    compile still exists: Django reports its error when it renders)."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    except TemplateSyntaxError:
        return True
    return True


def integer_setting_error(
    name: str, check_id: str, *, minimum: int, maximum: int | None = None, allow_none: bool = False
) -> checks.CheckMessage | None:
    """An error when ``settings.<name>`` is not an integer in ``[minimum, maximum]``."""
    value = getattr(settings, name)
    if value is None and allow_none:
        return None
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    if valid and maximum is not None:
        valid = value <= maximum
    if valid:
        return None
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
    also = " or None" if allow_none else ""
    return checks.Error(
        f"{name} must be an integer {bounds}{also}, not {value!r}.",
        id=check_id,
    )


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Core's settings: the trusted proxies a list of IP networks, the request id header a
    non-empty name, ``PREPARED_STATEMENTS`` True or False."""
    errors: list[checks.CheckMessage] = []
    proxies = settings.QUICKSCALE_CORE_TRUSTED_PROXIES
    if isinstance(proxies, str) or not isinstance(proxies, (list, tuple)):
        errors.append(
            checks.Error(
                "QUICKSCALE_CORE_TRUSTED_PROXIES must be a list of networks, "
                f"not {type(proxies).__name__}.",
                hint='For example ["10.0.0.0/8", "127.0.0.1/32"].',
                id="quickscale_core.E001",
            )
        )
    else:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except (TypeError, ValueError):
                errors.append(
                    checks.Error(
                        f"QUICKSCALE_CORE_TRUSTED_PROXIES contains {proxy!r}, "
                        "which is not an IP network.",
                        hint='Use CIDR notation such as "10.0.0.0/8".',
                        id="quickscale_core.E002",
                    )
                )
    header = settings.QUICKSCALE_CORE_REQUEST_ID_HEADER
    if not isinstance(header, str) or not header.strip():
        errors.append(
            checks.Error(
                "QUICKSCALE_CORE_REQUEST_ID_HEADER must be a non-empty header name, "
                f"not {header!r}.",
                id="quickscale_core.E003",
            )
        )
    prepared = settings.QUICKSCALE_CORE_PREPARED_STATEMENTS
    if not isinstance(prepared, bool):
        errors.append(
            checks.Error(
                f"QUICKSCALE_CORE_PREPARED_STATEMENTS must be True or False, not {prepared!r}.",
                id="quickscale_core.E004",
            )
        )
    return errors


#: Task backends that never hand work to a worker: the immediate one runs it in the request,
#: the dummy one never runs it.
INLINE_TASK_BACKENDS = ("ImmediateBackend", "DummyBackend")


def check_deployment(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``check --deploy``: a deployment on SQLite, or without a task worker."""
    messages: list[checks.CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if "sqlite" in str(database.get("ENGINE", "")):
            messages.append(
                checks.Warning(
                    f"The {alias!r} database is SQLite: one writer at a time, on one machine.",
                    hint="Use PostgreSQL in production: several web and task processes then "
                    "write credits at once, and they may run on several machines.",
                    id="quickscale_core.W001",
                )
            )
    backend = str(getattr(settings, "TASKS", {}).get("default", {}).get("BACKEND", ""))
    if not backend or backend.rsplit(".", 1)[-1] in INLINE_TASK_BACKENDS:
        messages.append(
            checks.Warning(
                "The default task backend runs background work in the request (or never): "
                f"{backend or 'TASKS is not set, so the immediate backend is used'}.",
                hint="Set TASKS to a worker backend (e.g. django_tasks_db.DatabaseBackend, with "
                "`manage.py db_worker` running), so async services and Stripe's webhooks are "
                "processed outside web requests.",
                id="quickscale_core.W002",
            )
        )
    return messages

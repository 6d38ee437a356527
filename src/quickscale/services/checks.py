"""System checks for the settings of ``quickscale.services``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The services' settings: ``AUTODISCOVER`` True or False, ``DEFAULT_TIMEOUT`` a whole
    number of seconds of at least 1."""
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


SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def check_registry(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Every registered service class is usable, and no two claim the same slug."""
    from quickscale.core.tasks import TASKS_AVAILABLE
    from quickscale.services.base import BaseService
    from quickscale.services.registry import registry

    errors: list[checks.CheckMessage] = [
        checks.Error(
            f"Services {_path(first)} and {_path(second)} both use the slug {slug!r}.",
            hint="Give each service a unique slug.",
            obj=second,
            id="quickscale_services.E004",
        )
        for slug, first, second in registry.duplicates
    ]
    for service in registry.all():
        problems = []
        if not SLUG_RE.fullmatch(service.slug) or len(service.slug) > 100:
            problems.append("its slug must be lowercase letters, digits and single hyphens")
        cost = service.cost
        if isinstance(cost, bool) or not isinstance(cost, (int, Decimal)) or cost < 0:
            problems.append("cost must be a Decimal or int of at least 0")
        if service.mode not in ("held", "inline"):
            problems.append(f"mode must be 'held' or 'inline', not {service.mode!r}")
        if service.run_async and service.mode != "held":
            problems.append("run_async needs mode 'held'")
        form: Any = service.input_form  # the class attribute may hold anything
        if form is not None and not (isinstance(form, type) and issubclass(form, forms.Form)):
            problems.append("input_form must be a django.forms.Form subclass")
        if service.run is BaseService.run:
            problems.append("it must implement run(ctx, data)")
        timeout = service.timeout
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1
        ):
            problems.append("timeout must be a positive number of seconds or None")
        for problem in problems:
            errors.append(
                checks.Error(
                    f"Service {_path(service)} is invalid: {problem}.",
                    obj=service,
                    id="quickscale_services.E005",
                )
            )
        if service.run_async and not TASKS_AVAILABLE:
            errors.append(
                checks.Error(
                    f"Service {_path(service)} runs asynchronously, which needs django.tasks.",
                    hint="Use Django 6, or install django-quickscale[tasks] on Django 5.2.",
                    obj=service,
                    id="quickscale_services.E006",
                )
            )
    return errors


def _path(service: type) -> str:
    return f"{service.__module__}.{service.__qualname__}"


def check_routing(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """An inline run writes its ``ServiceRun`` and its debit in one transaction, so runs must be
    written to the ledger's database."""
    from django.db import router

    from quickscale.credits.models import CreditAccount
    from quickscale.services.models import ServiceRun

    runs, ledger = router.db_for_write(ServiceRun), router.db_for_write(CreditAccount)
    if runs == ledger:
        return []
    return [
        checks.Error(
            f"DATABASE_ROUTERS send service runs to {runs!r} but the credit ledger to "
            f"{ledger!r}. A run and the debit that pays for it are written in one transaction.",
            hint="Route quickscale_services to the same database as quickscale_credits.",
            id="quickscale_services.E007",
        )
    ]

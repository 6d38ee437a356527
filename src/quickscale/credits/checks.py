"""System checks for the settings of ``quickscale.credits``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error
from quickscale.credits.amounts import MAX_DIGITS, STORED_PLACES
from quickscale.credits.models import GrantSource


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The ledger's settings: the decimal places (0 to 8), the hold timeout, the largest amount
    of one operation and the expiry days of each grant source."""
    errors = [
        error
        for error in (
            integer_setting_error(
                "QUICKSCALE_CREDITS_DECIMAL_PLACES",
                "quickscale_credits.E001",
                minimum=0,
                maximum=STORED_PLACES,
            ),
            integer_setting_error(
                "QUICKSCALE_CREDITS_HOLD_TIMEOUT", "quickscale_credits.E002", minimum=1
            ),
        )
        if error is not None
    ]
    maximum = settings.QUICKSCALE_CREDITS_MAX_AMOUNT
    limit = Decimal(10) ** (MAX_DIGITS - STORED_PLACES)
    if (
        isinstance(maximum, bool)
        or not isinstance(maximum, (int, Decimal))
        or not (0 < maximum < limit)
    ):
        errors.append(
            checks.Error(
                f"QUICKSCALE_CREDITS_MAX_AMOUNT must be a Decimal above 0 and below {limit}, "
                f"not {maximum!r}.",
                id="quickscale_credits.E003",
            )
        )
    expiry = settings.QUICKSCALE_CREDITS_EXPIRY_DAYS
    if not isinstance(expiry, dict) or not all(
        source in GrantSource.values
        and isinstance(days, int)
        and not isinstance(days, bool)
        and days > 0
        for source, days in expiry.items()
    ):
        errors.append(
            checks.Error(
                "QUICKSCALE_CREDITS_EXPIRY_DAYS must map grant sources "
                f"({', '.join(GrantSource.values)}) to a positive number of days, "
                f"not {expiry!r}.",
                id="quickscale_credits.E004",
            )
        )
    return errors


def check_database(
    app_configs: Sequence[Any] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """SQLite stores decimals as floating point, exact to 15 significant digits: with balances
    of up to 12 integer digits that leaves room for 3 decimal places."""
    from django.db import connections

    places = settings.QUICKSCALE_CREDITS_DECIMAL_PLACES
    if not isinstance(places, int) or places <= SQLITE_PLACES:
        return []
    return [
        checks.Error(
            f"QUICKSCALE_CREDITS_DECIMAL_PLACES is {places}, but database {alias!r} is SQLite, "
            f"which keeps credit amounts exact only up to {SQLITE_PLACES} decimal places.",
            hint="Use PostgreSQL, or at most 3 decimal places.",
            id="quickscale_credits.E005",
        )
        for alias in databases or []
        if connections[alias].vendor == "sqlite"
    ]


SQLITE_PLACES = 3


def check_routing(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The ledger's tables are written together in one transaction on the database the routers
    give for them: a database router that sends them to more than one database would split the
    ledger (an entry on one database, its balance on another)."""
    from django.apps import apps
    from django.db import router

    targets = {
        model._meta.label: router.db_for_write(model)
        for model in apps.get_app_config("quickscale_credits").get_models()
    }
    if len(set(targets.values())) <= 1:
        return []
    routed = ", ".join(f"{label} to {alias!r}" for label, alias in sorted(targets.items()))
    return [
        checks.Error(
            f"DATABASE_ROUTERS split the credits models across databases: {routed}. The "
            "ledger writes all of its tables in one transaction on one database.",
            hint="Route every model of quickscale_credits to the same database.",
            id="quickscale_credits.E006",
        )
    ]

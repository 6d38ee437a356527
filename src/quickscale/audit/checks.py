"""System checks for the settings of ``quickscale.audit``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from quickscale.core.checks import integer_setting_error

#: An action name or prefix: ``credits``, ``credits.`` or ``apikey.revoked``.
PATTERN_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*\.?")


def _strings(value: Any) -> bool:
    return (
        not isinstance(value, str)
        and isinstance(value, (list, tuple, set, frozenset))
        and all(isinstance(item, str) for item in value)
    )


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """The audit log's settings: the seal batch size and retention days, ``CAPTURE`` and
    ``EXCLUDE`` as lists of action names or prefixes, ``MASKED_FIELDS`` and
    ``TRIGGER_MODELS`` (installed models, the log itself left out)."""
    errors = [
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
    for name, check_id in (
        ("QUICKSCALE_AUDIT_CAPTURE", "quickscale_audit.E003"),
        ("QUICKSCALE_AUDIT_EXCLUDE", "quickscale_audit.E004"),
    ):
        value = getattr(settings, name)
        if not _strings(value) or not all(
            item == "*" or PATTERN_RE.fullmatch(item) for item in value
        ):
            errors.append(
                checks.Error(
                    f"{name} must be a list of action names or dotted prefixes "
                    f"(or '*' for every action), not {value!r}.",
                    hint='For example ["*"] or ["auth", "apikey.revoked"].',
                    id=check_id,
                )
            )
    masked = settings.QUICKSCALE_AUDIT_MASKED_FIELDS
    if not _strings(masked) or not all(item.strip() for item in masked):
        errors.append(
            checks.Error(
                f"QUICKSCALE_AUDIT_MASKED_FIELDS must be a list of field name fragments, "
                f"not {masked!r}.",
                hint='For example ["password", "secret", "token"].',
                id="quickscale_audit.E005",
            )
        )
    models = settings.QUICKSCALE_AUDIT_TRIGGER_MODELS
    if not _strings(models):
        errors.append(
            checks.Error(
                "QUICKSCALE_AUDIT_TRIGGER_MODELS must be a list of models as "
                f'"app_label.ModelName", not {models!r}.',
                id="quickscale_audit.E006",
            )
        )
    else:
        for label in models:
            problem = _model_problem(label)
            if problem:
                errors.append(
                    checks.Error(
                        f"QUICKSCALE_AUDIT_TRIGGER_MODELS names {label!r}, {problem}.",
                        hint='Name installed models as "app_label.ModelName".',
                        id="quickscale_audit.E007",
                    )
                )
    return errors


def _model_problem(label: str) -> str:
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        return "which is not an installed model"
    if model._meta.label_lower == "quickscale_audit.auditevent":
        return "the audit log itself, whose rows cannot record themselves"
    return ""


def check_database(
    app_configs: Sequence[Any] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Row-level capture and the database's append-only guard exist on PostgreSQL only."""
    from django.db import connections

    if not settings.QUICKSCALE_AUDIT_TRIGGER_MODELS:
        return []
    return [
        checks.Warning(
            f"QUICKSCALE_AUDIT_TRIGGER_MODELS is set, but database {alias!r} is "
            f"{connections[alias].display_name}: row-level capture needs PostgreSQL, so only "
            "events the application records are kept.",
            hint="Use PostgreSQL, or leave QUICKSCALE_AUDIT_TRIGGER_MODELS empty.",
            id="quickscale_audit.W001",
        )
        for alias in databases or []
        if connections[alias].vendor != "postgresql"
    ]

"""What every run mode shares once the service ran: its timeout, the ledger reference of its
charges, its output as stored, and how a finished run is written."""

from __future__ import annotations

import json
import logging
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone, translation
from django.utils.translation import ngettext

from quickscale.core.errors import lazy_message
from quickscale.services.base import BaseService, RunContext
from quickscale.services.exceptions import ServiceTimeout
from quickscale.services.models import ServiceRun

logger = logging.getLogger("quickscale.services.execution")

#: The fields a finished run writes.
FINISHED_FIELDS = ["status", "cost", "output", "error", "finished_at", "duration_ms", "charge"]


def timeout(service: BaseService) -> int:
    """Seconds a run of ``service`` may take."""
    return service.timeout or settings.QUICKSCALE_SERVICES_DEFAULT_TIMEOUT


def reference(run: ServiceRun) -> str:
    """The ledger reference and key prefix of a run's charges, in a namespace of its own."""
    return f"quickscale.services:run:{run.pk}"


def finish(
    run: ServiceRun,
    started: float | None,
    status: str,
    *,
    cost: Decimal,
    output: Any = None,
    error: str = "",
) -> None:
    """Set what a finished run records (the caller saves it)."""
    run.status = status
    run.cost = cost
    run.output = output
    run.error = error[:2000]
    run.finished_at = timezone.now()
    if started is not None:
        run.duration_ms = int((time.monotonic() - started) * 1000)


def as_json(output: Any) -> Any:
    """The output as it will be stored: JSON data, which PostgreSQL's jsonb cannot hold with a
    NUL character in it."""
    text = json.dumps(output, cls=DjangoJSONEncoder, allow_nan=False)
    if "\\u0000" in text:
        raise ValueError("The output contains a NUL character, which cannot be stored.")
    return json.loads(text)


def describe(error: BaseException, prefix: str = "") -> str:
    """How a failure reads in the run's ``error``: in the site's language (``LANGUAGE_CODE``),
    whoever's request it failed in, since staff and later readers share the stored text."""
    with translation.override(settings.LANGUAGE_CODE):
        if isinstance(error, ServiceTimeout) or prefix:
            text = prefix + getattr(error, "message", str(error))
        else:
            text = f"{type(error).__name__}: {error}"
    return text.replace("\x00", "\\x00")


def took_too_long(seconds: int) -> str:
    """The message of a run that did not finish within ``seconds`` (read in the language
    active when it is read)."""
    return lazy_message(
        lambda: (
            ngettext(
                "The service did not finish within %(seconds)s second.",
                "The service did not finish within %(seconds)s seconds.",
                seconds,
            )
            % {"seconds": seconds}
        )
    )


def hook(callback: Any, ctx: RunContext, value: Any) -> None:
    """Run an ``on_success``/``on_failure`` hook; the run is already recorded, so a failing
    hook is logged with its traceback rather than turning a finished run into an error."""
    try:
        callback(ctx, value)
    except Exception:
        logger.exception("The %s hook of service run %s failed", callback.__name__, ctx.run.pk)

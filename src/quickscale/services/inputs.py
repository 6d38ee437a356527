"""Before a run: find the service, check it may run, validate its input and price it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext

from quickscale.credits.exceptions import IdempotencyConflict
from quickscale.services.base import BaseService
from quickscale.services.catalog import catalog_row, price
from quickscale.services.exceptions import InvalidInput, ServiceDisabled
from quickscale.services.models import Service, ServiceRun
from quickscale.services.registry import registry


@dataclass(frozen=True)
class Prepared:
    """A run about to start: the service, its catalog row, the cleaned input, what it costs
    and the fingerprint of the request."""

    service: BaseService
    entry: Service
    data: dict[str, Any]
    price: Decimal
    digest: str


def input_digest(slug: str, data: Any) -> str:
    """A fingerprint of a request, to tell a replay from a different request with its key."""
    if not isinstance(data, dict):
        raise InvalidInput(
            gettext("The input must be an object, not %(type)s.") % {"type": type(data).__name__},
            details={"__all__": [gettext("The input must be an object.")]},
        )
    try:
        text = json.dumps([slug, data], sort_keys=True, cls=DjangoJSONEncoder, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(
            gettext("The input must be JSON data: %(error)s.") % {"error": error},
            details={"__all__": [str(error)]},
        ) from None
    return hashlib.sha256(text.encode()).hexdigest()


def prepare(slug: str, data: Any, digest: str | None = None) -> Prepared:
    """Look the service up, check it may run and validate ``data``; charges nothing."""
    digest = digest or input_digest(slug, data)
    service_class = registry.get(slug)
    entry = catalog_row(service_class)
    if not entry.enabled:
        raise ServiceDisabled(
            gettext("The service %(slug)r is disabled.") % {"slug": slug}, details={"service": slug}
        )
    service = service_class()
    if not service.is_available():
        raise ServiceDisabled(
            gettext("The service %(slug)r is not configured on this site.") % {"slug": slug},
            details={"service": slug},
        )
    clean = validate_input(service, data)
    return Prepared(service, entry, clean, price(service, entry, clean), digest)


def validate_input(service: BaseService, data: Any) -> dict[str, Any]:
    """The service's form and ``validate`` hook; errors name each field."""
    if not isinstance(data, dict):
        raise InvalidInput(
            gettext("The input must be an object, not %(type)s.") % {"type": type(data).__name__},
            details={"__all__": [gettext("The input must be an object.")]},
        )
    if service.input_form is None:
        clean = dict(data)
    else:
        form = service.input_form(data=data)
        if not form.is_valid():
            raise InvalidInput(
                gettext("The input is invalid: %(fields)s.")
                % {"fields": ", ".join(sorted(form.errors))},
                details={field: list(errors) for field, errors in form.errors.items()},
            )
        clean = form.cleaned_data
    try:
        return service.validate(clean)
    except forms.ValidationError as error:
        messages = (
            error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
        )
        raise InvalidInput(
            gettext("The input is invalid: %(problems)s")
            % {"problems": "; ".join(m for ms in messages.values() for m in ms)},
            details=messages,
        ) from None


def first_run(user: Any, key: str, slug: str, digest: str) -> ServiceRun | None:
    """The run ``user`` started with idempotency ``key``, marked ``replayed``, or ``None``;
    ``IdempotencyConflict`` if the key was used for another request."""
    # At most one row (a unique constraint), unordered, so the (user, key) index finds it
    # however many runs the user has.
    try:
        first = ServiceRun.objects.select_related("service").get(user=user, idempotency_key=key)
    except ServiceRun.DoesNotExist:
        first = None
    if first is not None and (first.service.slug != slug or first.input_digest != digest):
        raise IdempotencyConflict(
            gettext("The idempotency key %(key)r was already used for a different request.")
            % {"key": key},
            details={"idempotency_key": key, "run": first.pk},
        )
    if first is not None:
        first.replayed = True
    return first
